import { startApp, TestApp, itWhen } from '../support/app';
import { adminAuth, login, newUser } from '../support/factories';
import { within } from '../support/eventually';
import { bearer, http } from '../support/http';
import { requirePostgres } from '../support/postgres';

/**
 * Two instances on one PostgreSQL database and no Redis: what one instance changes reaches the
 * other by polling alone (as it does while Redis is unreachable). A deletion leaves no row to
 * poll for, so it is the case that needs its own record.
 */
describe('two instances on one PostgreSQL database, without Redis', () => {
  let a: TestApp;
  let b: TestApp;
  let ready = false;

  beforeAll(async () => {
    ready = await requirePostgres();
    if (!ready) return;
    a = await startApp({ database: 'postgres' });
    // Not `database: 'postgres'`: that would create a second database. Only A's close drops it.
    b = await startApp({
      env: {
        DATABASE_URL: a.env.DATABASE_URL,
        WARDEN_ENCRYPTION_KEY: a.env.WARDEN_ENCRYPTION_KEY,
      },
    });
  }, 60_000);

  afterAll(async () => {
    // B first: A's close drops the shared database.
    await b?.close();
    await a?.close();
  });

  const maybe = itWhen('postgres');
  const whoami = (t: TestApp, token: string) =>
    http(`${t.url}/system/whoami`, { headers: { authorization: bearer(token) } });

  maybe('a user deleted on A is refused by B within seconds, its tokens with it', async () => {
    const user = await newUser(a);
    const pair = await login(a, user);
    // B has verified the token and cached the user.
    for (let i = 0; i < 2; i++) expect((await whoami(b, pair.authentication)).status).toBe(200);

    const deleted = await http(`${a.url}/admin/users/${user.username}`, {
      method: 'DELETE',
      headers: { authorization: adminAuth() },
    });
    expect(deleted.status).toBe(204);

    await within(
      'B refuses the deleted user',
      () => whoami(b, pair.authentication),
      (r) => r.status === 401,
      3000,
    );
  });

  maybe('control: a user left alone stays accepted on B', async () => {
    const user = await newUser(a);
    const pair = await login(a, user);
    for (let i = 0; i < 3; i++) {
      expect((await whoami(b, pair.authentication)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
    }
  });
});
