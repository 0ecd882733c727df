import { startApp, TestApp } from '../support/app';
import { adminAuth, newUser } from '../support/factories';
import { FakeUpstream, startFakeUpstream } from '../support/fake-upstream';
import { bearer, http } from '../support/http';

describe('upstream session cookie on /system/auth', () => {
  let upstream: FakeUpstream;
  let t: TestApp;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ 'session-of-frank': 'frank', 'session-of-gina': 'gina' });
    t = await startApp({ env: { UPSTREAM_BASE_URL: upstream.url } });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  it('exchanges a valid upstream session for a token pair and provisions the user once', async () => {
    const res = await http(`${t.url}/system/auth`, {
      headers: { cookie: 'JSESSIONID=session-of-frank; other=1' },
    });
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)).toBe('JSESSIONID=session-of-frank; other=1');
    const me = await http(`${t.url}/system/whoami`, {
      headers: { authorization: bearer(res.body.authentication) },
    });
    expect(me.body).toMatchObject({ username: 'frank', authMethod: 'access' });
    const again = await http(`${t.url}/system/auth`, {
      headers: { cookie: 'JSESSIONID=session-of-frank' },
    });
    expect(again.status).toBe(200);
    const rows = await t.dataSource.query(
      `SELECT id, password_hash FROM users WHERE username_key = 'frank'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].password_hash).toBeNull();
    const sessions = await t.dataSource.query(
      `SELECT auth_method FROM refresh_sessions WHERE user_id = '${rows[0].id}'`,
    );
    expect(sessions.map((s: { auth_method: string }) => s.auth_method)).toEqual([
      'session',
      'session',
    ]);
  });

  it('an existing local user keeps their groups', async () => {
    await newUser(t, { username: 'gina', groups: ['warden-admins'] });
    const res = await http(`${t.url}/system/auth`, {
      headers: { cookie: 'JSESSIONID=session-of-gina' },
    });
    expect(res.status).toBe(200);
    const users = await http(`${t.url}/admin/users`, {
      headers: { authorization: bearer(res.body.authentication) },
    });
    expect(users.status).toBe(200);
  });

  it('an unknown session is a 401', async () => {
    const res = await http(`${t.url}/system/auth`, { headers: { cookie: 'JSESSIONID=forged' } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('invalid_session');
  });

  it('the cookie is accepted on /system/auth only, never as API credentials', async () => {
    const res = await http(`${t.url}/system/whoami`, {
      headers: { cookie: 'JSESSIONID=session-of-frank' },
    });
    expect(res.status).toBe(401);
    const admin = await http(`${t.url}/admin/users`, {
      headers: { cookie: 'JSESSIONID=session-of-gina' },
    });
    expect(admin.status).toBe(401);
  });

  it('Basic credentials still work when the upstream is configured', async () => {
    const res = await http(`${t.url}/system/auth`, { headers: { authorization: adminAuth() } });
    expect(res.status).toBe(200);
  });
});

describe('upstream session when the upstream fails', () => {
  /**
   * A fresh app on an upstream with the given sessions and behaviour (none: no UPSTREAM_BASE_URL,
   * a string: that URL), asked to sign in with the cookie; both are closed afterwards.
   */
  async function signIn(
    upstreamOf: Parameters<typeof startFakeUpstream> | string | null,
    cookie: string,
    after: (t: TestApp) => Promise<void> = async () => undefined,
  ) {
    const upstream = Array.isArray(upstreamOf) ? await startFakeUpstream(...upstreamOf) : null;
    const url = upstream ? upstream.url : upstreamOf;
    const t = await startApp(typeof url === 'string' ? { env: { UPSTREAM_BASE_URL: url } } : {});
    try {
      const res = await http(`${t.url}/system/auth`, { headers: { cookie } });
      await after(t);
      return res;
    } finally {
      await t.close();
      await upstream?.close();
    }
  }

  it('an upstream error is a 503 problem, never a login', async () => {
    const res = await signIn([{}, { status: 500 }], 'JSESSIONID=whatever');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('upstream_unavailable');
  });

  it('an answer broken off half-way is a 503 problem, not a 500', async () => {
    const res = await signIn([{}, { brokenBody: true }], 'JSESSIONID=whatever');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('upstream_unavailable');
  });

  it('a redirect (single sign-on sending the caller to log in) is no session: 401, not 503', async () => {
    for (const status of [302, 303, 307]) {
      expect((await signIn([{}, { status }], 'JSESSIONID=whatever')).status).toBe(401);
    }
  });

  it('a session naming a user with control characters is a 401, and nobody is provisioned', async () => {
    let users = '';
    const res = await signIn(
      [{ 'session-of-odd': 'odd\u0001name' }],
      'JSESSIONID=session-of-odd',
      async (t) => {
        users = (await http(`${t.url}/admin/users`, { headers: { authorization: adminAuth() } }))
          .text;
      },
    );
    expect(res.status).toBe(401);
    expect(users).toContain('"username"');
    expect(users).not.toContain('odd');
  });

  it('an unreachable upstream is a 503 problem', async () => {
    expect((await signIn('http://127.0.0.1:1', 'JSESSIONID=whatever')).status).toBe(503);
  });

  it('without UPSTREAM_BASE_URL a cookie alone is a 401', async () => {
    expect((await signIn(null, 'JSESSIONID=whatever')).status).toBe(401);
  });
});
