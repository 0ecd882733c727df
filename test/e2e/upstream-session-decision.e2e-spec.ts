import { randomBytes } from 'node:crypto';
import { Clock } from '../../src/common/clock';
import { DEFAULT_SETTINGS } from '../../src/settings/settings.defaults';
import { DATABASES, databaseReady, itWhen, startApp, TestApp } from '../support/app';
import { auditEvents, rawAuditTable } from '../support/audit';
import { adminAuth, newGroup, newUser } from '../support/factories';
import { FakeUpstream, startFakeUpstream } from '../support/fake-upstream';
import { http } from '../support/http';
import { operatorPatch } from '../support/settings';

/** Asks the decision endpoint about a request to the upstream, as nginx's auth_request would. */
function decide(
  t: TestApp,
  options: { cookie?: string; method?: string; headers?: Record<string, string> } = {},
) {
  return http(`${t.url}/authz/decision`, {
    headers: {
      'x-original-method': options.method ?? 'GET',
      'x-original-uri': '/rest/api/2/issue/PRJ-1',
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...(options.headers ?? {}),
    },
  });
}

const sessionId = () => randomBytes(12).toString('hex');
const username = () => `jira-${randomBytes(4).toString('hex')}`;

describe.each(DATABASES)('upstream session cookie at the decision endpoint (%s)', (database) => {
  /** The simulated Jira's sessions: JSESSIONID → username; tests add and end sessions. */
  const sessions: Record<string, string> = {};
  let upstream: FakeUpstream;
  let t: TestApp;
  let ready = false;

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    upstream = await startFakeUpstream(sessions);
    t = await startApp({ database, env: { UPSTREAM_BASE_URL: upstream.url } });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    if (!ready) return;
    const { groups, ip, rateLimit, upstreamSessions } = DEFAULT_SETTINGS;
    await operatorPatch(t, { groups, ip, rateLimit, upstreamSessions });
  });

  const maybe = itWhen(database);

  /** A session of a new upstream user (added to the simulated Jira), and its cookie. */
  const signedIn = (name = username()) => {
    const id = sessionId();
    sessions[id] = name;
    return { name, id, cookie: `JSESSIONID=${id}; atlassian.xsrf.token=abc|lin` };
  };
  /** How many times the upstream was asked about this session. */
  const asked = (id: string) => upstream.seen.filter((c) => c.includes(id)).length;

  maybe(
    'a browser request with the session cookie is allowed as the upstream user, provisioned once',
    async () => {
      const s = signedIn();
      const res = await decide(t, { cookie: s.cookie });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ decision: 'allow', user: s.name, authMethod: 'session' });
      expect(res.headers.get('x-warden-user')).toBe(s.name);
      expect(res.headers.get('x-warden-auth-method')).toBe('session');
      const credentialId = res.headers.get('x-warden-credential-id')!;
      expect(credentialId).toMatch(/^[0-9a-f]{16}$/);
      expect(s.cookie).not.toContain(credentialId);
      // The whole Cookie header goes to the upstream, as the browser sent it.
      expect(upstream.seen).toContain(s.cookie);

      expect((await decide(t, { cookie: s.cookie })).status).toBe(200);
      const rows = await t.dataSource.query(
        `SELECT password_hash FROM users WHERE username_key = '${s.name}'`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].password_hash).toBeNull();
    },
  );

  maybe("the groups are the directory's, and a change there applies at once", async () => {
    const group = await newGroup(t);
    const other = await newGroup(t);
    const user = await newUser(t, { username: username(), groups: [group] });
    const s = signedIn(user.username);
    const first = await decide(t, { cookie: s.cookie });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-warden-groups')).toBe(group);

    const changed = await http(`${t.url}/admin/users/${user.username}`, {
      method: 'PATCH',
      headers: { authorization: adminAuth() },
      json: { groups: [group, other] },
    });
    expect(changed.status).toBe(200);
    const second = await decide(t, { cookie: s.cookie });
    expect(second.headers.get('x-warden-groups')?.split(',').sort()).toEqual([group, other].sort());
    // From the directory, not from a new question to the upstream.
    expect(asked(s.id)).toBe(1);
  });

  maybe('a member of a read-only group may GET but not POST', async () => {
    const readers = await newGroup(t);
    const user = await newUser(t, { username: username(), groups: [readers] });
    const s = signedIn(user.username);
    await operatorPatch(t, { groups: { readOnly: [readers] } });
    expect((await decide(t, { cookie: s.cookie })).status).toBe(200);
    const post = await decide(t, { cookie: s.cookie, method: 'POST' });
    expect(post.status).toBe(403);
    expect(post.body.code).toBe('read_only_group');
  });

  maybe('groups.apiAccess applies: a user outside the groups is refused', async () => {
    const apiUsers = await newGroup(t);
    const s = signedIn();
    await operatorPatch(t, { groups: { apiAccess: [apiUsers] } });
    const res = await decide(t, { cookie: s.cookie });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('not_in_api_access_group');
  });

  maybe('the IP allow-list applies to browser users too', async () => {
    const s = signedIn();
    await operatorPatch(t, { ip: { allow: ['10.0.0.0/8'] } });
    // The test client is 127.0.0.1, a trusted proxy: the client address is X-Forwarded-For's.
    const outside = await decide(t, {
      cookie: s.cookie,
      headers: { 'x-forwarded-for': '192.0.2.7' },
    });
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe('ip_not_allowed');
    const inside = await decide(t, {
      cookie: s.cookie,
      headers: { 'x-forwarded-for': '10.1.2.3' },
    });
    expect(inside.status).toBe(200);
  });

  maybe('a disabled user is refused, though the upstream still knows the session', async () => {
    const user = await newUser(t, { username: username() });
    const s = signedIn(user.username);
    expect((await decide(t, { cookie: s.cookie })).status).toBe(200);
    const disabled = await http(`${t.url}/admin/users/${user.username}`, {
      method: 'PATCH',
      headers: { authorization: adminAuth() },
      json: { disabled: true },
    });
    expect(disabled.status).toBe(200);
    const res = await decide(t, { cookie: s.cookie });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('invalid_session');
  });

  maybe('an unknown or ended session is a 401', async () => {
    const res = await decide(t, { cookie: `JSESSIONID=${sessionId()}` });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('invalid_session');
    expect(res.headers.get('www-authenticate')).toMatch(/Bearer/);
  });

  maybe(
    'several requests, sequential or at once, with one cookie ask the upstream once',
    async () => {
      const s = signedIn();
      for (let i = 0; i < 5; i++) expect((await decide(t, { cookie: s.cookie })).status).toBe(200);
      expect(asked(s.id)).toBe(1);

      const together = signedIn();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => decide(t, { cookie: together.cookie })),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(asked(together.id)).toBe(1);
    },
  );

  maybe('"no session" is remembered for a few seconds only', async () => {
    const clock = t.app.get(Clock);
    const start = Date.now();
    const now = jest.spyOn(clock, 'now').mockReturnValue(start);
    const id = sessionId();
    const cookie = `JSESSIONID=${id}`;
    expect((await decide(t, { cookie })).status).toBe(401);
    expect((await decide(t, { cookie })).status).toBe(401);
    expect(asked(id)).toBe(1);

    // The user signs in to the upstream and the browser's cookie becomes a session.
    sessions[id] = username();
    now.mockReturnValue(start + 4000);
    expect((await decide(t, { cookie })).status).toBe(401);
    expect(asked(id)).toBe(1);
    now.mockReturnValue(start + 5001);
    expect((await decide(t, { cookie })).status).toBe(200);
    expect(asked(id)).toBe(2);
  });

  maybe('an answer is reused for upstreamSessions.cacheSeconds, never longer', async () => {
    const clock = t.app.get(Clock);
    const start = Date.now();
    const now = jest.spyOn(clock, 'now').mockReturnValue(start);
    const s = signedIn();
    expect((await decide(t, { cookie: s.cookie })).status).toBe(200);
    // The session ends in the upstream: Warden goes on trusting its answer until it expires.
    delete sessions[s.id];
    now.mockReturnValue(start + 29_000);
    expect((await decide(t, { cookie: s.cookie })).status).toBe(200);
    expect(asked(s.id)).toBe(1);
    now.mockReturnValue(start + 30_000);
    const ended = await decide(t, { cookie: s.cookie });
    expect(ended.status).toBe(401);
    expect(asked(s.id)).toBe(2);

    // Lowering cacheSeconds shortens answers already given.
    const again = signedIn();
    expect((await decide(t, { cookie: again.cookie })).status).toBe(200);
    await operatorPatch(t, { upstreamSessions: { cacheSeconds: 10 } });
    now.mockReturnValue(start + 40_000);
    expect((await decide(t, { cookie: again.cookie })).status).toBe(200);
    expect(asked(again.id)).toBe(2);
  });

  maybe(
    'upstreamSessions.decision off: the cookie is not accepted, nor sent upstream',
    async () => {
      const s = signedIn();
      await operatorPatch(t, { upstreamSessions: { decision: false } });
      const res = await decide(t, { cookie: s.cookie });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('authentication_required');
      expect(asked(s.id)).toBe(0);
    },
  );

  maybe('a request with any Authorization is judged by it, never by the cookie', async () => {
    const s = signedIn();
    const res = await decide(t, {
      cookie: s.cookie,
      headers: { authorization: 'Basic bm9ib2R5Ondyb25n' },
    });
    expect(res.status).toBe(401);
    expect(res.body.code).not.toBe('invalid_session');
    expect(asked(s.id)).toBe(0);
  });

  maybe("the budget is the user's, however many sessions they open", async () => {
    const name = username();
    const first = signedIn(name);
    const second = signedIn(name);
    await operatorPatch(t, { rateLimit: { requests: 2, windowSeconds: 60 } });
    expect((await decide(t, { cookie: first.cookie })).status).toBe(200);
    expect((await decide(t, { cookie: second.cookie })).status).toBe(200);
    const third = await decide(t, { cookie: first.cookie });
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBeTruthy();
  });

  maybe('each decision is audited as a session, named by a digest and not the cookie', async () => {
    const s = signedIn();
    const res = await decide(t, { cookie: s.cookie });
    expect(res.status).toBe(200);
    const credentialId = res.headers.get('x-warden-credential-id');
    const forged = `JSESSIONID=${sessionId()}`;
    expect((await decide(t, { cookie: forged })).status).toBe(401);

    const allowed = (await auditEvents(t, { event: 'decision.allowed', actor: s.name }))[0];
    expect(allowed).toMatchObject({
      actor: s.name,
      authMethod: 'session',
      credentialId,
      outcome: 'allowed',
      method: 'GET',
      path: '/rest/api/2/issue/PRJ-1',
    });
    const denied = (await auditEvents(t, { event: 'decision.denied' })).find(
      (row) => row.reason === 'invalid_session',
    );
    expect(denied).toMatchObject({ authMethod: 'session', status: 401 });
    const stored = await rawAuditTable(t);
    expect(stored).not.toContain(s.id);
    expect(stored).not.toContain(forged.slice('JSESSIONID='.length));
  });
});

describe('upstream session cookie at the decision endpoint, the upstream failing', () => {
  const t: TestApp[] = [];
  afterAll(async () => {
    for (const app of t) await app.close();
  });

  it('an unreachable upstream is a 503, asked again on the next request', async () => {
    const app = await startApp({ env: { UPSTREAM_BASE_URL: 'http://127.0.0.1:1' } });
    t.push(app);
    for (let i = 0; i < 2; i++) {
      const res = await decide(app, { cookie: 'JSESSIONID=whatever' });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('upstream_unavailable');
    }
  });

  it('an upstream error is a 503 and is not remembered', async () => {
    const upstream = await startFakeUpstream({}, { status: 500 });
    try {
      const app = await startApp({ env: { UPSTREAM_BASE_URL: upstream.url } });
      t.push(app);
      expect((await decide(app, { cookie: 'JSESSIONID=x1' })).status).toBe(503);
      expect((await decide(app, { cookie: 'JSESSIONID=x1' })).status).toBe(503);
      expect(upstream.seen).toHaveLength(2);
    } finally {
      await upstream.close();
    }
  });

  it('without UPSTREAM_BASE_URL a cookie alone is a 401', async () => {
    const app = await startApp();
    t.push(app);
    const res = await decide(app, { cookie: 'JSESSIONID=whatever' });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('authentication_required');
  });
});
