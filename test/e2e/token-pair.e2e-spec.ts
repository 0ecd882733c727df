import { Clock } from '../../src/common/clock';
import { DATABASES, databaseReady, startApp, TestApp, itWhen } from '../support/app';
import { adminAuth, login, newUser, Pair, TestUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { patchSettings } from '../support/settings';

describe.each(DATABASES)('token pair (%s)', (database) => {
  let t: TestApp;
  let user: TestUser;
  let ready = false;

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    // Rotation is opt-in (BigPicture's clients keep their login refresh token); most cases here
    // are about rotation. The default is the subject of the BigPicture suite below.
    t = await startApp({ database, settings: { tokens: { rotateRefreshTokens: true } } });
    user = await newUser(t);
  });

  afterAll(async () => {
    await t?.close();
  });

  const maybe = itWhen(database);

  maybe('GET /system/auth with Basic returns a pair that calls APIs', async () => {
    const res = await http<Pair>(`${t.url}/system/auth`, {
      headers: { authorization: basic(user.username, user.password) },
    });
    expect(res.status).toBe(200);
    // RFC 6749 §5.1: responses carrying tokens are not to be cached.
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual(['authentication', 'refresh']);
    const me = await http(`${t.url}/system/whoami`, {
      headers: { authorization: bearer(res.body.authentication) },
    });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: user.id,
      username: user.username,
      groups: [],
      authMethod: 'access',
    });
  });

  maybe('usernames are matched regardless of case', async () => {
    const res = await http(`${t.url}/system/auth`, {
      headers: { authorization: basic(user.username.toUpperCase(), user.password) },
    });
    expect(res.status).toBe(200);
  });

  maybe('POST /system/auth takes JSON credentials', async () => {
    const res = await http<Pair>(`${t.url}/system/auth`, {
      method: 'POST',
      json: { username: user.username, password: user.password },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(typeof res.body.authentication).toBe('string');
    expect(typeof res.body.refresh).toBe('string');
  });

  maybe(
    'a wrong password is a 401 problem with a Basic challenge, and is audited nowhere in the body',
    async () => {
      const res = await http(`${t.url}/system/auth`, {
        headers: { authorization: basic(user.username, 'wrong-password-123') },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="warden"/);
      expect(res.body).toMatchObject({
        status: 401,
        code: 'invalid_credentials',
        title: 'Unauthorized',
      });
      expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
      expect(res.text).not.toContain('wrong-password');
    },
  );

  maybe("a NUL in a username is the client's error on every database, never a 500", async () => {
    const json = await http(`${t.url}/system/auth`, {
      method: 'POST',
      json: { username: 'ad\u0000min', password: 'x' },
    });
    expect(json.status).toBe(400);
    expect(json.text).toContain('username');
    const viaBasic = await http(`${t.url}/system/auth`, {
      headers: { authorization: basic('ad\u0000min', 'x') },
    });
    expect(viaBasic.status).toBe(401);
    // A path parameter goes to the database as it is: PostgreSQL refuses NUL in text.
    const lookup = await http(`${t.url}/admin/users/ad%00min`, {
      headers: { authorization: adminAuth() },
    });
    expect([400, 404]).toContain(lookup.status);
    expect(lookup.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  maybe('POST /system/auth with a wrong password or an unknown user is the same 401', async () => {
    const wrong = await http(`${t.url}/system/auth`, {
      method: 'POST',
      json: { username: user.username, password: 'nope-nope-nope' },
    });
    const unknown = await http(`${t.url}/system/auth`, {
      method: 'POST',
      json: { username: 'nobody-here', password: 'nope-nope-nope' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.detail).toBe(unknown.body.detail);
  });

  maybe(
    'with rotation on, reauth accepts the refresh token as Bearer and bare, and rotates it',
    async () => {
      const first = await login(t, user);
      const viaBearer = await http<Pair>(`${t.url}/system/reauth`, {
        headers: { authorization: bearer(first.refresh) },
      });
      expect(viaBearer.status).toBe(200);
      expect(viaBearer.headers.get('cache-control')).toBe('no-store');
      expect(viaBearer.body.refresh).not.toBe(first.refresh);
      expect(viaBearer.body.authentication).not.toBe(first.authentication);
      const viaBare = await http<Pair>(`${t.url}/system/reauth`, {
        headers: { authorization: viaBearer.body.refresh },
      });
      expect(viaBare.status).toBe(200);
      const me = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(viaBare.body.authentication) },
      });
      expect(me.status).toBe(200);
    },
  );

  maybe('a retry within the grace window gets the very same successor pair', async () => {
    const first = await login(t, user);
    const a = await http<Pair>(`${t.url}/system/reauth`, {
      headers: { authorization: bearer(first.refresh) },
    });
    const b = await http<Pair>(`${t.url}/system/reauth`, {
      headers: { authorization: bearer(first.refresh) },
    });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
  });

  maybe(
    'presenting an older generation revokes the whole family, access tokens included',
    async () => {
      const gen1 = await login(t, user);
      const gen2 = (
        await http<Pair>(`${t.url}/system/reauth`, {
          headers: { authorization: bearer(gen1.refresh) },
        })
      ).body;
      const gen3 = (
        await http<Pair>(`${t.url}/system/reauth`, {
          headers: { authorization: bearer(gen2.refresh) },
        })
      ).body;
      // gen1 is two generations old: no grace applies.
      const reuse = await http(`${t.url}/system/reauth`, {
        headers: { authorization: bearer(gen1.refresh) },
      });
      expect(reuse.status).toBe(401);
      expect(reuse.body.code).toBe('invalid_refresh_token');
      expect(reuse.headers.get('www-authenticate')).toContain('error="invalid_token"');
      // The newest refresh token of the family is dead too…
      const newest = await http(`${t.url}/system/reauth`, {
        headers: { authorization: bearer(gen3.refresh) },
      });
      expect(newest.status).toBe(401);
      // …and so is its access token, although it was already verified and cached.
      const call = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(gen3.authentication) },
      });
      expect(call.status).toBe(401);
      const rows = await t.dataSource.query(
        'SELECT revoked_reason FROM refresh_sessions WHERE revoked_at IS NOT NULL',
      );
      expect(rows.map((r: { revoked_reason: string }) => r.revoked_reason)).toContain(
        'refresh_reuse',
      );
    },
  );

  maybe('two concurrent reauths with one refresh token rotate exactly once', async () => {
    const pair = await login(t, user);
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        http<Pair>(`${t.url}/system/reauth`, { headers: { authorization: bearer(pair.refresh) } }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    for (const r of results) expect([200, 401]).toContain(r.status);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // Every success is the same successor: one rotation, one family.
    const successors = new Set(ok.map((r) => r.body.refresh));
    expect(successors.size).toBe(1);
    const sid = JSON.parse(Buffer.from(pair.refresh.split('.')[1], 'base64url').toString()).sid;
    const [row] = await t.dataSource.query(
      `SELECT generation, revoked_at FROM refresh_sessions WHERE id = '${sid}'`,
    );
    expect(Number(row.generation)).toBe(2);
    expect(row.revoked_at).toBeNull();
  });

  maybe('logout ends the session: its access token and refresh token stop working', async () => {
    const pair = await login(t, user);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(200);
    const out = await http(`${t.url}/system/logout`, {
      method: 'POST',
      headers: { authorization: bearer(pair.authentication) },
    });
    expect(out.status).toBe(204);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(401);
    expect(
      (await http(`${t.url}/system/reauth`, { headers: { authorization: bearer(pair.refresh) } }))
        .status,
    ).toBe(401);
  });

  maybe('sessions can be listed and ended one by one or everywhere', async () => {
    const other = await newUser(t);
    const a = await login(t, other);
    const b = await login(t, other);
    const list = await http(`${t.url}/system/sessions`, {
      headers: { authorization: bearer(a.authentication), 'user-agent': 'warden-test/1' },
    });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(2);
    expect(list.body.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expect(list.body[0]).toEqual(expect.objectContaining({ ip: '127.0.0.1', authMethod: 'basic' }));
    const bSid = JSON.parse(Buffer.from(b.refresh.split('.')[1], 'base64url').toString()).sid;

    // Someone else's session id is "not found", not a way to end it.
    const foreign = await http(`${t.url}/system/sessions/${bSid}`, {
      method: 'DELETE',
      headers: { authorization: basic(user.username, user.password) },
    });
    expect(foreign.status).toBe(404);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(b.authentication) },
        })
      ).status,
    ).toBe(200);

    const del = await http(`${t.url}/system/sessions/${bSid}`, {
      method: 'DELETE',
      headers: { authorization: bearer(a.authentication) },
    });
    expect(del.status).toBe(204);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(b.authentication) },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(a.authentication) },
        })
      ).status,
    ).toBe(200);

    const all = await http(`${t.url}/system/sessions`, {
      method: 'DELETE',
      headers: { authorization: bearer(a.authentication) },
    });
    expect(all.status).toBe(204);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(a.authentication) },
        })
      ).status,
    ).toBe(401);
  });

  maybe('a bad session id is a 400 problem, not a 500', async () => {
    const res = await http(`${t.url}/system/sessions/not-a-uuid`, {
      method: 'DELETE',
      headers: { authorization: basic(user.username, user.password) },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  maybe("a new password ends the user's sessions", async () => {
    const victim = await newUser(t);
    const pair = await login(t, victim);
    const patch = await http(`${t.url}/admin/users/${victim.username}`, {
      method: 'PATCH',
      headers: { authorization: adminAuth() },
      json: { password: 'a-brand-new-password-1' },
    });
    expect(patch.status).toBe(200);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(401);
    expect(
      (await http(`${t.url}/system/reauth`, { headers: { authorization: bearer(pair.refresh) } }))
        .status,
    ).toBe(401);
  });

  maybe('tokens are stored as hashes only', async () => {
    const pair = await login(t, user);
    const jti = JSON.parse(Buffer.from(pair.refresh.split('.')[1], 'base64url').toString()).jti;
    const rows = await t.dataSource.query('SELECT * FROM refresh_sessions');
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(jti);
    expect(dump).not.toContain(pair.refresh);
    expect(dump).not.toContain(pair.authentication.split('.')[2]);
  });

  maybe('GET /.well-known/jwks.json publishes the signing key named in every token', async () => {
    const pair = await login(t, user);
    const header = JSON.parse(
      Buffer.from(pair.authentication.split('.')[0], 'base64url').toString(),
    );
    const jwks = await http(`${t.url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);
    expect(header).toEqual({ typ: 'at+jwt', alg: 'RS256', kid: header.kid });
    for (const key of jwks.body.keys) expect(key.d).toBeUndefined();
  });
});

/**
 * BigPicture's documented client ("Authentication, version 8.3 and higher"): it sends the bare
 * value of `authentication` as the Authorization header, renews at /system/reauth with the
 * refresh token it got at login, and keeps that refresh token for its whole life, since the
 * contract answers `{"authentication": …}` only.
 */
describe.each(DATABASES)('a BigPicture client on default settings (%s)', (database) => {
  let t: TestApp;
  let ready = false;

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    t = await startApp({ database });
  });
  afterAll(async () => t?.close());
  afterEach(() => jest.restoreAllMocks());

  const maybe = itWhen(database);
  /** What the client's HTTP library sends: the token itself, no scheme. */
  const call = (token: string, path = '/system/whoami', method = 'GET') =>
    http(`${t.url}${path}`, { method, headers: { authorization: token } });

  maybe(
    'logs in, calls with the bare token, meets an expiry, renews three times with its login refresh token, logs out',
    async () => {
      const user = await newUser(t);
      const clock = t.app.get(Clock);
      const start = clock.now();
      const at = (ms: number) => jest.spyOn(clock, 'now').mockImplementation(() => start + ms);

      const login = await http<Pair>(`${t.url}/system/auth`, {
        headers: { authorization: basic(user.username, user.password) },
      });
      expect(login.status).toBe(200);
      const refresh = login.body.refresh;
      const me = await call(login.body.authentication);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ username: user.username, authMethod: 'access' });

      // 16 minutes on: the 15-minute access token has expired, and says so the RFC 6750 way.
      at(16 * 60_000);
      const expired = await call(login.body.authentication);
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
      expect(expired.body.code).toBe('token_expired');

      // Three renewals, each well past the reuse grace window of the one before, all with the
      // refresh token from the login: none is taken for theft, and each answer has no `refresh`.
      let access = '';
      for (const minutes of [16, 32, 48]) {
        at(minutes * 60_000);
        const renewed = await call(refresh, '/system/reauth');
        expect(renewed.status).toBe(200);
        expect(Object.keys(renewed.body)).toEqual(['authentication']);
        access = renewed.body.authentication;
        const again = await call(access);
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ username: user.username });
      }
      const sid = JSON.parse(Buffer.from(refresh.split('.')[1], 'base64url').toString()).sid;
      const [session] = await t.dataSource.query(
        `SELECT generation, revoked_at FROM refresh_sessions WHERE id = '${sid}'`,
      );
      expect(Number(session.generation)).toBe(1);
      expect(session.revoked_at).toBeNull();

      // Logging out ends the session: the refresh token from the login and the last access
      // token stop working.
      const out = await call(access, '/system/logout', 'POST');
      expect(out.status).toBe(204);
      expect((await call(access)).status).toBe(401);
      const after = await call(refresh, '/system/reauth');
      expect(after.status).toBe(401);
      expect(after.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    },
  );

  maybe('the bare access token works at the decision endpoint too', async () => {
    const user = await newUser(t);
    const pair = await login(t, user);
    const res = await http(`${t.url}/authz/decision`, {
      headers: {
        authorization: pair.authentication,
        'x-original-method': 'GET',
        'x-original-uri': '/rest/api/2/myself',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-user')).toBe(user.username);
    expect(res.headers.get('x-warden-auth-method')).toBe('access');
  });

  maybe(
    'a bare refresh token is no access token, and a bare access token renews nothing',
    async () => {
      const user = await newUser(t);
      const pair = await login(t, user);
      const asAccess = await call(pair.refresh);
      expect(asAccess.status).toBe(401);
      expect(asAccess.body.code).toBe('invalid_token');
      const asRefresh = await call(pair.authentication, '/system/reauth');
      expect(asRefresh.status).toBe(401);
      // A personal API token names its scheme; bare, it is not taken for anything.
      const bareApiToken = await call(`wdn_${'A'.repeat(43)}`);
      expect(bareApiToken.status).toBe(401);
      expect(bareApiToken.body.code).toBe('credential_not_accepted');
    },
  );

  maybe('with rotation opted in, reauth answers a new refresh token too', async () => {
    await patchSettings(t, { tokens: { rotateRefreshTokens: true } });
    try {
      const user = await newUser(t);
      const pair = await login(t, user);
      const renewed = await call(pair.refresh, '/system/reauth');
      expect(renewed.status).toBe(200);
      expect(Object.keys(renewed.body).sort()).toEqual(['authentication', 'refresh']);
      expect(renewed.body.refresh).not.toBe(pair.refresh);
      expect((await call(renewed.body.refresh, '/system/reauth')).status).toBe(200);
    } finally {
      await patchSettings(t, { tokens: { rotateRefreshTokens: false } });
    }
  });
});
