import { startApp, TestApp } from '../support/app';
import { auditEvents } from '../support/audit';
import { adminAuth, login, newUser, TestUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';

/** GET /admin/users/{username}/sessions and DELETE …/sessions[/{id}] (docs/api.md#sessions). */
describe('an administrator ends anyone’s sessions', () => {
  let t: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    t = await startApp();
    user = await newUser(t);
  });
  afterAll(async () => t?.close());

  const sessionsOf = (username: string, auth = adminAuth()) =>
    http(`${t.url}/admin/users/${encodeURIComponent(username)}/sessions`, {
      headers: { authorization: auth },
    });
  const end = (path: string) =>
    http(`${t.url}/admin/users/${encodeURIComponent(user.username)}/sessions${path}`, {
      method: 'DELETE',
      headers: { authorization: adminAuth() },
    });
  const works = async (token: string) =>
    (await http(`${t.url}/system/whoami`, { headers: { authorization: bearer(token) } })).status;

  it('lists, ends one, ends all; the tokens stop working and each end is audited', async () => {
    const first = await login(t, user);
    const second = await login(t, user);
    const listed = await sessionsOf(user.username);
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(2);

    const [one] = listed.body;
    expect((await end(`/${one.id}`)).status).toBe(204);
    expect((await sessionsOf(user.username)).body).toHaveLength(1);
    expect((await end(`/${one.id}`)).status).toBe(404);

    expect((await end('')).status).toBe(204);
    expect((await sessionsOf(user.username)).body).toEqual([]);
    for (const pair of [first, second]) expect(await works(pair.authentication)).toBe(401);

    const rows = await auditEvents(t, { event: 'auth.sessions.revoked' });
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => r.details?.user)).toEqual([user.username, user.username]);
  });

  it('answers 404 for an unknown user, 400 for a bad id, 403 for a non-administrator', async () => {
    expect((await sessionsOf('nobody-here')).status).toBe(404);
    expect((await end('/not-a-uuid')).status).toBe(400);
    expect((await sessionsOf(user.username, basic(user.username, user.password))).status).toBe(403);
  });
});
