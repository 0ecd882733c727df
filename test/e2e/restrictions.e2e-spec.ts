import { startApp, TestApp } from '../support/app';
import { adminAuth, login, newGroup, newUser, TestUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { operatorPatch, patchSettings } from '../support/settings';

const decision = (t: TestApp, method: string, uri: string, headers: Record<string, string> = {}) =>
  http(`${t.url}/authz/decision`, {
    headers: { 'x-original-method': method, 'x-original-uri': uri, ...headers },
  });

describe('restrictions on protected routes and the decision endpoint', () => {
  let t: TestApp;
  let user: TestUser;
  let victim: TestUser;

  beforeAll(async () => {
    t = await startApp();
    user = await newUser(t);
    victim = await newUser(t);
  });
  afterAll(async () => t?.close());

  it('groups.apiAccess: only members (and admins) use APIs; others get not_in_api_access_group', async () => {
    const group = await newGroup(t);
    const member = await newUser(t, { groups: [group] });
    const pair = await login(t, user);
    await patchSettings(t, { groups: { apiAccess: [group] } });
    try {
      const denied = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(pair.authentication) },
      });
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('not_in_api_access_group');
      expect(
        (
          await decision(t, 'GET', '/rest/api/2/issue/X-1', {
            authorization: bearer(pair.authentication),
          })
        ).status,
      ).toBe(403);
      const memberPair = await login(t, member);
      expect(
        (
          await http(`${t.url}/system/whoami`, {
            headers: { authorization: bearer(memberPair.authentication) },
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await decision(t, 'GET', '/rest/api/2/issue/X-1', {
            authorization: bearer(memberPair.authentication),
          })
        ).status,
      ).toBe(200);
      // Administrators are never locked out by group rules.
      expect(
        (await http(`${t.url}/system/whoami`, { headers: { authorization: adminAuth() } })).status,
      ).toBe(200);
    } finally {
      await patchSettings(t, { groups: { apiAccess: [] } });
    }
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(200);
  });

  it('a group change reaches tokens already in use', async () => {
    const group = await newGroup(t);
    const u = await newUser(t);
    const pair = await login(t, u);
    await patchSettings(t, { groups: { apiAccess: [group] } });
    try {
      expect(
        (await decision(t, 'GET', '/x', { authorization: bearer(pair.authentication) })).status,
      ).toBe(403);
      await http(`${t.url}/admin/users/${u.username}`, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { groups: [group] },
      });
      expect(
        (await decision(t, 'GET', '/x', { authorization: bearer(pair.authentication) })).status,
      ).toBe(200);
    } finally {
      await patchSettings(t, { groups: { apiAccess: [] } });
    }
  });

  it('groups.readOnly: members may only GET/HEAD/OPTIONS', async () => {
    const group = await newGroup(t);
    const reader = await newUser(t, { groups: [group] });
    const pair = await login(t, reader);
    await patchSettings(t, { groups: { readOnly: [group] } });
    try {
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        expect(
          (
            await decision(t, method, '/rest/api/2/issue/X-1', {
              authorization: bearer(pair.authentication),
            })
          ).status,
        ).toBe(200);
      }
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const res = await decision(t, method, '/rest/api/2/issue/X-1', {
          authorization: bearer(pair.authentication),
        });
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('read_only_group');
      }
      // Someone outside the group writes as before.
      const other = await login(t, user);
      expect(
        (
          await decision(t, 'POST', '/rest/api/2/issue', {
            authorization: bearer(other.authentication),
          })
        ).status,
      ).toBe(200);
    } finally {
      await patchSettings(t, { groups: { readOnly: [] } });
    }
  });

  it('IP allow-list: addresses and ranges, IPv4 and IPv6, judged on the socket unless a trusted proxy forwards', async () => {
    const pair = await login(t, user);
    const auth = { authorization: bearer(pair.authentication) };
    // The test client is 127.0.0.1, which the default settings trust as a proxy: without a
    // forwarded header it is judged by its own address.
    await patchSettings(t, { ip: { allow: ['10.0.0.0/8', '2001:db8::/32'] } });
    try {
      const denied = await http(`${t.url}/system/whoami`, { headers: auth });
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('ip_not_allowed');
      // Forwarded by a trusted proxy (127.0.0.1): the right-most untrusted entry is the client.
      expect(
        (
          await http(`${t.url}/system/whoami`, {
            headers: { ...auth, 'x-forwarded-for': '10.1.2.3' },
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await http(`${t.url}/system/whoami`, {
            headers: { ...auth, 'x-forwarded-for': '2001:db8::7' },
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await http(`${t.url}/system/whoami`, {
            headers: { ...auth, 'x-forwarded-for': '::ffff:10.9.9.9' },
          })
        ).status,
      ).toBe(200);
      // A client cannot choose the left-most entry: the right-most untrusted one decides.
      expect(
        (
          await http(`${t.url}/system/whoami`, {
            headers: { ...auth, 'x-forwarded-for': '10.1.2.3, 192.0.2.99' },
          })
        ).status,
      ).toBe(403);
      // Malformed headers are judged by the socket address, never a 500.
      for (const value of ['garbage', '10.1.2.3, not-an-ip', '999.1.1.1', '10/8', ',,,']) {
        const res = await http(`${t.url}/system/whoami`, {
          headers: { ...auth, 'x-forwarded-for': value },
        });
        expect(res.status).toBe(403);
      }
    } finally {
      await operatorPatch(t, { ip: { allow: [] } });
    }
    expect((await http(`${t.url}/system/whoami`, { headers: auth })).status).toBe(200);
  });

  it('a forwarded header from an untrusted peer is ignored', async () => {
    const pair = await login(t, user);
    const auth = { authorization: bearer(pair.authentication) };
    // Trust nobody: 127.0.0.1 is now an ordinary client whose X-Forwarded-For means nothing.
    await patchSettings(t, { ip: { trustedProxies: [], allow: ['10.0.0.0/8'] } });
    try {
      const spoof = await http(`${t.url}/system/whoami`, {
        headers: { ...auth, 'x-forwarded-for': '10.1.2.3' },
      });
      expect(spoof.status).toBe(403);
      expect(spoof.body.detail).toContain('127.0.0.1');
    } finally {
      await operatorPatch(t, { ip: { allow: [], trustedProxies: ['127.0.0.1/32', '::1/128'] } });
    }
    expect((await http(`${t.url}/system/whoami`, { headers: auth })).status).toBe(200);
  });

  it('bypass paths skip authentication; public paths too unless requireAuthentication', async () => {
    await patchSettings(t, {
      bypass: { paths: ['GET /status', '/health-of-upstream/**'] },
      publicApis: { paths: ['GET /rest/api/*/serverInfo'] },
    });
    try {
      expect((await decision(t, 'GET', '/status')).status).toBe(200);
      expect((await decision(t, 'POST', '/status')).status).toBe(401);
      expect((await decision(t, 'GET', '/health-of-upstream/a/b/c')).status).toBe(200);
      expect((await decision(t, 'GET', '/rest/api/2/serverInfo')).status).toBe(200);
      expect((await decision(t, 'GET', '/rest/api/2/serverInfo/extra')).status).toBe(401);
      // Dot segments are resolved before matching: no escaping a bypass prefix.
      expect((await decision(t, 'GET', '/health-of-upstream/../admin')).status).toBe(401);
      await patchSettings(t, { publicApis: { requireAuthentication: true } });
      expect((await decision(t, 'GET', '/rest/api/2/serverInfo')).status).toBe(401);
      expect((await decision(t, 'GET', '/status')).status).toBe(200);
    } finally {
      await patchSettings(t, {
        bypass: { paths: [] },
        publicApis: { paths: [], requireAuthentication: false },
      });
    }
    expect((await decision(t, 'GET', '/status')).status).toBe(401);
  });

  it('a settings change may be sent as application/merge-patch+json (RFC 7396)', async () => {
    const current = await http(`${t.url}/admin/settings`, {
      headers: { authorization: adminAuth() },
    });
    const res = await http(`${t.url}/admin/settings`, {
      method: 'PATCH',
      headers: {
        authorization: adminAuth(),
        'content-type': 'application/merge-patch+json',
        'if-match': current.headers.get('etag')!,
      },
      body: JSON.stringify({ publicApis: { paths: ['/merge-patch/**'] } }),
    });
    expect(res.status).toBe(200);
    expect(res.body.publicApis.paths).toEqual(['/merge-patch/**']);
    await patchSettings(t, { publicApis: { paths: [] } });
  });

  it('an invalid pattern is refused when saved', async () => {
    const current = await http(`${t.url}/admin/settings`, {
      headers: { authorization: adminAuth() },
    });
    const res = await http(`${t.url}/admin/settings`, {
      method: 'PATCH',
      headers: { authorization: adminAuth(), 'if-match': current.headers.get('etag')! },
      json: { bypass: { paths: ['status'] }, publicApis: { paths: ['FETCH /x'] } },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'bypass.paths',
      'publicApis.paths',
    ]);
  });

  it('the decision endpoint names the caller for the upstream', async () => {
    const pair = await login(t, user);
    const res = await decision(t, 'GET', '/rest/api/2/myself?expand=groups', {
      authorization: bearer(pair.authentication),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-user')).toBe(user.username);
    expect(res.headers.get('x-warden-auth-method')).toBe('access');
    expect(res.headers.get('x-warden-groups')).toBe('');
    expect(res.headers.get('x-warden-credential-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await decision(t, 'GET', '/rest/api/2/myself');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(none.headers.get('x-warden-user')).toBeNull();
    const missing = await http(`${t.url}/authz/decision`, {
      headers: { authorization: bearer(pair.authentication) },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('missing_original_request');
  });

  it('rate limit per credential: RateLimit headers, then 429 with Retry-After; another credential is unaffected', async () => {
    const a = await login(t, await newUser(t));
    const b = await login(t, await newUser(t));
    // Through the operator path: the admin's own budget is 3 as well once this is on.
    await operatorPatch(t, { rateLimit: { requests: 3, windowSeconds: 60 } });
    try {
      const first = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(a.authentication) },
      });
      expect(first.headers.get('ratelimit-limit')).toBe('3');
      expect(first.headers.get('ratelimit-remaining')).toBe('2');
      expect(Number(first.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
      expect(first.headers.get('ratelimit-policy')).toBe('3;w=60');
      await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(a.authentication) },
      });
      await decision(t, 'GET', '/x', { authorization: bearer(a.authentication) });
      const limited = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(a.authentication) },
      });
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limited.headers.get('ratelimit-remaining')).toBe('0');
      expect(
        (await decision(t, 'GET', '/x', { authorization: bearer(a.authentication) })).status,
      ).toBe(429);
      expect(
        (
          await http(`${t.url}/system/whoami`, {
            headers: { authorization: bearer(b.authentication) },
          })
        ).status,
      ).toBe(200);
    } finally {
      await operatorPatch(t, { rateLimit: { requests: 600, windowSeconds: 60 } });
    }
  });

  it('a new budget applies at once: a caller refused under the old one is served under the new one', async () => {
    const a = await login(t, await newUser(t));
    const whoami = () =>
      http(`${t.url}/system/whoami`, { headers: { authorization: bearer(a.authentication) } });
    await operatorPatch(t, { rateLimit: { requests: 2, windowSeconds: 3600 } });
    try {
      await whoami();
      await whoami();
      const refused = await whoami();
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);

      await operatorPatch(t, { rateLimit: { requests: 5, windowSeconds: 60 } });
      const served = await whoami();
      expect(served.status).toBe(200);
      expect(served.headers.get('ratelimit-policy')).toBe('5;w=60');
      expect(served.headers.get('ratelimit-remaining')).toBe('4');
      expect(Number(served.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(60);
      // The new budget is counted in full: four more, then refused.
      for (let i = 0; i < 4; i++) expect((await whoami()).status).toBe(200);
      const spent = await whoami();
      expect(spent.status).toBe(429);
      expect(Number(spent.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    } finally {
      await operatorPatch(t, { rateLimit: { requests: 600, windowSeconds: 60 } });
    }
  });

  it('rateLimit.enabled off: no budget and no headers', async () => {
    await operatorPatch(t, { rateLimit: { enabled: false, requests: 1 } });
    try {
      const pair = await login(t, user);
      for (let i = 0; i < 3; i++) {
        const res = await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit-limit')).toBeNull();
      }
    } finally {
      await operatorPatch(t, { rateLimit: { enabled: true, requests: 600 } });
    }
  });

  it('failed logins are limited per username and address: ten guesses, then the right password is refused too', async () => {
    for (let i = 0; i < 10; i++) {
      expect(
        (
          await http(`${t.url}/system/auth`, {
            headers: { authorization: basic(victim.username, `wrong-${i}-password`) },
          })
        ).status,
      ).toBe(401);
    }
    // Counted when the check ends, before the answer: the eleventh guess is refused at once.
    const blocked = await http(`${t.url}/system/auth`, {
      method: 'POST',
      json: { username: victim.username, password: 'wrong-again-password' },
    });
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('login_rate_limited');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      (
        await http(`${t.url}/system/auth`, {
          headers: { authorization: basic(victim.username, victim.password) },
        })
      ).status,
    ).toBe(429);
    // Another user from the same address is not affected, and successful logins do not count,
    // with Basic or with a JSON body (a check that ends leaves nothing under way behind).
    for (let i = 0; i < 12; i++) expect((await login(t, user)).authentication).toBeTruthy();
    for (let i = 0; i < 12; i++) {
      const res = await http(`${t.url}/system/auth`, {
        method: 'POST',
        json: { username: user.username, password: user.password },
      });
      expect(res.status).toBe(200);
    }
  });

  it('parallel guesses cannot overrun the login budget', async () => {
    const target = await newUser(t);
    const guesses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        http(`${t.url}/system/auth`, {
          method: 'POST',
          headers: { 'x-forwarded-for': '198.51.100.61' },
          json: { username: target.username, password: `parallel-${i}-password` },
        }),
      ),
    );
    const statuses = guesses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    // Another address still has its own budget for the same user.
    const elsewhere = await http(`${t.url}/system/auth`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '198.51.100.62' },
      json: { username: target.username, password: target.password },
    });
    expect(elsewhere.status).toBe(200);
  });

  it('a password checked anywhere counts: Basic on an API route and at the decision endpoint', async () => {
    const target = await newUser(t);
    const from = { 'x-forwarded-for': '198.51.100.71' };
    for (let i = 0; i < 5; i++) {
      const res = await http(`${t.url}/system/whoami`, {
        headers: { ...from, authorization: basic(target.username, `api-${i}-password`) },
      });
      expect(res.status).toBe(401);
    }
    for (let i = 0; i < 5; i++) {
      const res = await decision(t, 'GET', '/rest/api/2/myself', {
        ...from,
        authorization: basic(target.username, `decision-${i}-password`),
      });
      expect(res.status).toBe(401);
    }
    // Ten failures between them: the right password is refused on every route from there.
    const right = { ...from, authorization: basic(target.username, target.password) };
    const api = await http(`${t.url}/system/whoami`, { headers: right });
    expect(api.status).toBe(429);
    expect(api.body.code).toBe('login_rate_limited');
    expect((await decision(t, 'GET', '/rest/api/2/myself', right)).status).toBe(429);
    expect((await http(`${t.url}/system/auth`, { headers: right })).status).toBe(429);
    // A token the user got before is not a password: it keeps working.
    const pair = await login(t, target);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { ...from, authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(200);
  });

  it('refused credentials are counted by address, whatever the username: a budget for guessing', async () => {
    // Fresh users: earlier tests spent budgets of the shared ones in this window.
    const holder = await newUser(t);
    const other = await newUser(t);
    const pair = await login(t, holder);
    await operatorPatch(t, { rateLimit: { enabled: true, requests: 5, windowSeconds: 60 } });
    try {
      const from = { 'x-forwarded-for': '198.51.100.81' };
      // Requests without credentials are not guessing: a plain 401, however many.
      for (let i = 0; i < 8; i++) {
        const res = await http(`${t.url}/system/whoami`, { headers: from });
        expect(res.status).toBe(401);
      }
      // A different made-up user each time, so no per-user limit applies.
      const spray = (i: number) =>
        http(`${t.url}/system/whoami`, {
          headers: { ...from, authorization: basic(`sprayed-${i}`, 'guess-password-1') },
        });
      for (let i = 0; i < 5; i++) expect((await spray(i)).status).toBe(401);
      const spent = await spray(5);
      expect(spent.status).toBe(429);
      expect(spent.body.code).toBe('rate_limited');
      expect(Number(spent.headers.get('retry-after'))).toBeGreaterThan(0);
      // From then on passwords from that address are not even checked, the right one included…
      const right = await http(`${t.url}/system/auth`, {
        method: 'POST',
        headers: from,
        json: { username: other.username, password: other.password },
      });
      expect(right.status).toBe(429);
      // …while a token keeps working from there, and other addresses are not affected.
      const withToken = await http(`${t.url}/system/whoami`, {
        headers: { ...from, authorization: bearer(pair.authentication) },
      });
      expect(withToken.status).toBe(200);
      const elsewhere = await http(`${t.url}/system/whoami`, {
        headers: {
          'x-forwarded-for': '198.51.100.82',
          authorization: basic(other.username, other.password),
        },
      });
      expect(elsewhere.status).toBe(200);
    } finally {
      await operatorPatch(t, { rateLimit: { enabled: true, requests: 600, windowSeconds: 60 } });
    }
  });

  it('the JSON sign-in is held to the IP allow-list like every other route', async () => {
    await patchSettings(t, { ip: { allow: ['10.0.0.0/8', '127.0.0.1/32'] } });
    try {
      const refused = await http(`${t.url}/system/auth`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '203.0.113.9' },
        json: { username: user.username, password: user.password },
      });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('ip_not_allowed');
      expect(refused.body.authentication).toBeUndefined();
      const allowed = await http(`${t.url}/system/auth`, {
        method: 'POST',
        headers: { 'x-forwarded-for': '10.1.2.3' },
        json: { username: user.username, password: user.password },
      });
      expect(allowed.status).toBe(200);
    } finally {
      await patchSettings(t, { ip: { allow: [] } });
    }
  });
});
