import { createSecretKey } from 'node:crypto';
import { signJws } from '../support/jws';
import { CONTEXT_QSH, qshOf } from '../../src/connect/qsh';
import { DATABASES, databaseReady, itWhen, startApp, TestApp } from '../support/app';
import { FakeAtlassian, newTenant, SimTenant } from '../support/atlassian';
import { auditEvents } from '../support/audit';
import { adminAuth, login, newUser } from '../support/factories';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { basic, http } from '../support/http';
import { newRsaKey } from '../support/idp';

const BASE_URL = 'https://warden.example.test';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe.each(DATABASES)('Atlassian Connect (%s)', (database) => {
  let t: TestApp;
  let ready = false;
  const atl = new FakeAtlassian();
  const when = itWhen(database);

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    await atl.start();
    t = await startApp({
      database,
      env: {
        WARDEN_BASE_URL: BASE_URL,
        CONNECT_KEYS_URL: atl.keysUrl,
        CONNECT_KEYS_FALLBACK_URL: atl.fallbackUrl,
        CONNECT_AUTH_SERVER_URL: atl.url,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    if (ready) await atl.stop();
  });

  const install = (
    tenant: SimTenant,
    token = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed'),
    body = atl.installPayload(tenant),
  ) =>
    http(`${t.url}/connect/installed`, {
      method: 'POST',
      headers: { authorization: `JWT ${token}` },
      json: body,
    });
  const uninstall = (tenant: SimTenant) =>
    http(`${t.url}/connect/uninstalled`, {
      method: 'POST',
      headers: {
        authorization: `JWT ${atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/uninstalled')}`,
      },
      json: { ...atl.installPayload(tenant), sharedSecret: undefined, eventType: 'uninstalled' },
    });
  const whoami = (token: string, url = '/connect/whoami') =>
    http(`${t.url}${url}`, { headers: { authorization: `JWT ${token}` } });
  const requestToken = (tenant: SimTenant, claims: Record<string, unknown> = {}) =>
    FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami', claims);
  const tenants = async () =>
    (await http(`${t.url}/admin/connect/tenants`, { headers: { authorization: adminAuth() } }))
      .body as Record<string, unknown>[];
  const installed = async (tenant: SimTenant) => {
    atl.tenants.set(tenant.clientKey, tenant);
    const res = await install(tenant);
    expect(res.status).toBe(204);
  };

  when('serves the descriptor: jwt authentication, signed install, context-qsh', async () => {
    const res = await http(`${t.url}/atlassian-connect.json`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      key: 'warden',
      baseUrl: BASE_URL,
      authentication: { type: 'jwt' },
      lifecycle: { installed: '/connect/installed', uninstalled: '/connect/uninstalled' },
      apiMigrations: { 'signed-install': true, 'context-qsh': true },
      scopes: ['READ'],
    });
  });

  describe('signed install', () => {
    when('installs a tenant; its secret is sealed at rest and never listed', async () => {
      const tenant = newTenant();
      await installed(tenant);
      const listed = (await tenants()).find((x) => x.clientKey === tenant.clientKey);
      expect(listed).toMatchObject({
        baseUrl: atl.tenantBaseUrl,
        productType: 'jira',
        installed: true,
        enabled: true,
        oauthClientId: tenant.oauthClientId,
      });
      expect(JSON.stringify(listed)).not.toContain(tenant.sharedSecret);
      const [row] = await t.dataSource.query(
        `SELECT shared_secret AS s FROM connect_tenants WHERE client_key = $1`.replace(
          '$1',
          database === 'postgres' ? '$1' : '?',
        ),
        [tenant.clientKey],
      );
      expect(row.s).toMatch(/^v1\./);
      expect(row.s).not.toContain(tenant.sharedSecret);
      expect((await whoami(requestToken(tenant))).status).toBe(200);
      const events = await auditEvents(t, { event: 'connect.installed' });
      expect(events.some((e) => e.actor === `connect:${tenant.clientKey}`)).toBe(true);
    });

    when('accepts our base URL with a trailing slash as the audience', async () => {
      const tenant = newTenant();
      const res = await install(
        tenant,
        atl.lifecycleToken(tenant.clientKey, `${BASE_URL}/`, '/connect/installed'),
      );
      expect(res.status).toBe(204);
    });

    when('refuses a wrong audience, and changes nothing', async () => {
      const tenant = newTenant();
      const res = await install(
        tenant,
        atl.lifecycleToken(
          tenant.clientKey,
          'https://other-app.example.test',
          '/connect/installed',
        ),
      );
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body.detail).toMatch(/aud/);
      expect((await tenants()).some((x) => x.clientKey === tenant.clientKey)).toBe(false);
    });

    when('refuses an unknown kid, and asks the key servers about it only once', async () => {
      const tenant = newTenant();
      const stranger = newRsaKey('kid-nobody-publishes');
      const before = atl.keyRequests;
      for (let i = 0; i < 3; i++) {
        const res = await install(
          tenant,
          atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', { key: stranger }),
        );
        expect(res.status).toBe(401);
      }
      expect(atl.keyRequests - before).toBe(1);
      expect((await tenants()).some((x) => x.clientKey === tenant.clientKey)).toBe(false);
    });

    when('refuses a token signed by another key under a published kid', async () => {
      const tenant = newTenant();
      const forger = newRsaKey(atl.key.kid);
      const res = await install(
        tenant,
        atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', { key: forger }),
      );
      expect(res.status).toBe(401);
    });

    when('refuses a kid that would leave the key URL', async () => {
      const tenant = newTenant();
      const res = await install(
        tenant,
        atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', {
          key: newRsaKey('../../oauth2/token'),
        }),
      );
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(/kid/);
    });

    when(
      'fails closed with a clear 401 when the key servers are down, and changes nothing',
      async () => {
        const tenant = newTenant();
        await installed(tenant);
        const fresh = newRsaKey('kid-fresh-while-down');
        atl.keys.set(fresh.kid, fresh);
        atl.keysDown = true;
        try {
          const replacement = { ...tenant, sharedSecret: 'y'.repeat(40) };
          const res = await install(
            replacement,
            atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', { key: fresh }),
          );
          expect(res.status).toBe(401);
          expect(res.body.detail).toMatch(/could not be fetched/);
          expect(res.body.detail).toMatch(/503/);
        } finally {
          atl.keysDown = false;
        }
        // The old secret still works, and the kid was not remembered as unknown.
        expect((await whoami(requestToken(tenant))).status).toBe(200);
        const again = await install(
          tenant,
          atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', { key: fresh }),
        );
        expect(again.status).toBe(204);
      },
    );

    when('tries the fallback key server with the same kid', async () => {
      const tenant = newTenant();
      const onlyFallback = newRsaKey('kid-on-the-fallback');
      atl.fallbackKeys.set(onlyFallback.kid, onlyFallback);
      const before = atl.fallbackRequests;
      const res = await install(
        tenant,
        atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', { key: onlyFallback }),
      );
      expect(res.status).toBe(204);
      expect(atl.fallbackRequests - before).toBe(1);
    });

    when('refuses a replayed install that carries another secret', async () => {
      const tenant = newTenant();
      const token = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed');
      expect((await install(tenant, token)).status).toBe(204);
      const attacker = { ...tenant, sharedSecret: 'attacker-chosen-secret-0123456789abcdef' };
      const replay = await install(attacker, token, atl.installPayload(attacker));
      expect(replay.status).toBe(401);
      expect(replay.body.code).toBe('lifecycle_replayed');
      expect((await whoami(requestToken(tenant))).status).toBe(200);
      expect((await whoami(requestToken(attacker))).status).toBe(401);
    });

    when(
      'refuses a replay whose signature is spelled another way (unused base64url bits set)',
      async () => {
        const tenant = newTenant();
        const token = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed');
        expect((await install(tenant, token)).status).toBe(204);
        // A 2048-bit signature is 342 characters: only the top 2 bits of the last one count, so
        // 16 spellings decode to the same bytes, and each is a new text to a digest of the token.
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const last = alphabet.indexOf(token.at(-1)!);
        const respelled = token.slice(0, -1) + alphabet[(last & ~15) | ((last + 1) & 15)];
        expect(Buffer.from(respelled.split('.')[2], 'base64url')).toEqual(
          Buffer.from(token.split('.')[2], 'base64url'),
        );
        const attacker = { ...tenant, sharedSecret: 'attacker-chosen-secret-0123456789abcdef' };
        const replay = await install(attacker, respelled, atl.installPayload(attacker));
        expect(replay.status).toBe(401);
        expect((await whoami(requestToken(tenant))).status).toBe(200);
        expect((await whoami(requestToken(attacker))).status).toBe(401);
      },
    );

    when(
      'answers a retried install (same token, same body) as before, changing nothing',
      async () => {
        const tenant = newTenant();
        const token = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed');
        expect((await install(tenant, token)).status).toBe(204);
        const before = (await tenants()).find((x) => x.clientKey === tenant.clientKey);
        expect((await install(tenant, token)).status).toBe(204);
        expect((await tenants()).find((x) => x.clientKey === tenant.clientKey)).toEqual(before);
      },
    );

    when('refuses a replayed install after an uninstall in the same second', async () => {
      const tenant = newTenant();
      const iat = Math.floor(Date.now() / 1000);
      const installToken = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', {
        claims: { iat },
      });
      expect((await install(tenant, installToken)).status).toBe(204);
      const uninstallToken = atl.lifecycleToken(
        tenant.clientKey,
        BASE_URL,
        '/connect/uninstalled',
        { claims: { iat } },
      );
      const gone = await http(`${t.url}/connect/uninstalled`, {
        method: 'POST',
        headers: { authorization: `JWT ${uninstallToken}` },
        json: { ...atl.installPayload(tenant), sharedSecret: undefined, eventType: 'uninstalled' },
      });
      expect(gone.status).toBe(204);
      const attacker = { ...tenant, sharedSecret: 'attacker-after-uninstall-0123456789abcdef' };
      const replay = await install(attacker, installToken, atl.installPayload(attacker));
      expect(replay.status).toBe(401);
      expect(replay.body.code).toBe('lifecycle_replayed');
      expect((await whoami(requestToken(attacker))).status).toBe(401);
    });

    when('refuses an older lifecycle token after a newer one was accepted', async () => {
      const tenant = newTenant();
      const now = Math.floor(Date.now() / 1000);
      const older = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', {
        claims: { iat: now - 30 },
      });
      expect((await install(tenant)).status).toBe(204);
      const refused = await install(tenant, older);
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('lifecycle_replayed');
    });

    when(
      'refuses an unsigned install, alg none, and an HS256 token made with the secret',
      async () => {
        const tenant = newTenant();
        await installed(tenant);
        const attacker = { ...tenant, sharedSecret: 'z'.repeat(48) };
        const unsigned = await http(`${t.url}/connect/installed`, {
          method: 'POST',
          json: atl.installPayload(attacker),
        });
        expect(unsigned.status).toBe(401);
        expect(unsigned.headers.get('www-authenticate')).toMatch(/^JWT /);
        const now = Math.floor(Date.now() / 1000);
        const none = `${b64({ alg: 'none', typ: 'JWT', kid: atl.key.kid })}.${b64({
          iss: tenant.clientKey,
          aud: BASE_URL,
          iat: now,
          exp: now + 60,
          qsh: qshOf('POST', '/connect/installed'),
        })}.`;
        expect((await install(attacker, none, atl.installPayload(attacker))).status).toBe(401);
        // A request token (the tenant's own secret) is not a lifecycle token.
        const hs = FakeAtlassian.requestToken(tenant, 'POST', '/connect/installed', {
          aud: BASE_URL,
        });
        expect((await install(attacker, hs, atl.installPayload(attacker))).status).toBe(401);
        // Key confusion: the published RSA public key as an HMAC secret.
        const pem = atl.key.publicKey.export({ format: 'pem', type: 'spki' });
        const confused = signJws(
          { typ: 'JWT', kid: atl.key.kid },
          {
            iss: tenant.clientKey,
            aud: BASE_URL,
            iat: now,
            exp: now + 60,
            qsh: qshOf('POST', '/connect/installed'),
          },
          { alg: 'HS256', key: createSecretKey(Buffer.from(pem)) },
        );
        expect((await install(attacker, confused, atl.installPayload(attacker))).status).toBe(401);
        expect((await whoami(requestToken(tenant))).status).toBe(200);
      },
    );

    when(
      'refuses a token for another callback, without exp or iat, or from another tenant',
      async () => {
        const tenant = newTenant();
        const other = newTenant();
        const path = '/connect/installed';
        expect(
          (
            await install(
              tenant,
              atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/uninstalled'),
            )
          ).status,
        ).toBe(401);
        expect(
          (
            await install(
              tenant,
              atl.lifecycleToken(tenant.clientKey, BASE_URL, path, { claims: { exp: undefined } }),
            )
          ).status,
        ).toBe(401);
        const expired = atl.lifecycleToken(tenant.clientKey, BASE_URL, path, {
          claims: {
            iat: Math.floor(Date.now() / 1000) - 600,
            exp: Math.floor(Date.now() / 1000) - 300,
          },
        });
        expect((await install(tenant, expired)).status).toBe(401);
        const noIat = atl.lifecycleToken(tenant.clientKey, BASE_URL, path, {
          claims: { iat: undefined },
        });
        expect((await install(tenant, noIat)).status).toBe(401);
        const foreign = await install(tenant, atl.lifecycleToken(other.clientKey, BASE_URL, path));
        expect(foreign.status).toBe(401);
        expect(foreign.body.detail).toMatch(/clientKey/);
        expect((await tenants()).some((x) => x.clientKey === tenant.clientKey)).toBe(false);
      },
    );

    when('answers a bad payload with a 400 that names the fields', async () => {
      const tenant = newTenant();
      const res = await install(tenant, undefined, {
        ...atl.installPayload(tenant),
        sharedSecret: 'short',
        baseUrl: 'not a url',
      });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'baseUrl',
        'sharedSecret',
      ]);
      const otherApp = await install(tenant, undefined, {
        ...atl.installPayload(tenant),
        key: 'x',
      });
      expect(otherApp.status).toBe(400);
      expect(otherApp.body.code).toBe('app_key_mismatch');
    });
  });

  describe('request tokens', () => {
    const tenant = newTenant();
    beforeAll(async () => {
      if (ready) await installed(tenant);
    });

    when('whoami names the tenant and the user (header or ?jwt=)', async () => {
      const res = await whoami(requestToken(tenant));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        tenant: { clientKey: tenant.clientKey, baseUrl: atl.tenantBaseUrl, productType: 'jira' },
        user: { accountId: 'acc-5b10a2844c20165700ede21g' },
        context: false,
      });
      const url = '/connect/whoami?lic=active&xdm_e=https%3A%2F%2Fx.atlassian.net&cp=';
      const token = FakeAtlassian.requestToken(tenant, 'GET', url);
      const query = await http(`${t.url}${url}&jwt=${token}`);
      expect(query.status).toBe(200);
      expect(query.body.tenant.clientKey).toBe(tenant.clientKey);
    });

    when('takes the account from context.user.accountId in older tokens', async () => {
      const res = await whoami(
        requestToken(tenant, { sub: undefined, context: { user: { accountId: 'legacy-acc' } } }),
      );
      expect(res.body.user).toEqual({ accountId: 'legacy-acc' });
    });

    when('accepts context-qsh on whoami (marked for it)', async () => {
      const res = await whoami(requestToken(tenant, { qsh: CONTEXT_QSH }));
      expect(res.status).toBe(200);
      expect(res.body.context).toBe(true);
    });

    when('refuses a wrong qsh, another method, a changed query', async () => {
      const wrong = await whoami(requestToken(tenant, { qsh: qshOf('GET', '/connect/other') }));
      expect(wrong.status).toBe(401);
      expect(wrong.body.detail).toMatch(/qsh/);
      const post = FakeAtlassian.requestToken(tenant, 'POST', '/connect/whoami');
      expect((await whoami(post)).status).toBe(401);
      const token = FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami?a=1');
      expect((await whoami(token, '/connect/whoami?a=2')).status).toBe(401);
      expect((await whoami(token, '/connect/whoami?a=1')).status).toBe(200);
    });

    when(
      'refuses expired, exp-less, alg none, another secret, unknown tenant, two jwt parameters',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        expect(
          (await whoami(requestToken(tenant, { iat: now - 600, exp: now - 300 }))).status,
        ).toBe(401);
        expect((await whoami(requestToken(tenant, { exp: undefined }))).status).toBe(401);
        const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
          iss: tenant.clientKey,
          exp: now + 60,
          qsh: qshOf('GET', '/connect/whoami'),
        })}.`;
        expect((await whoami(none)).status).toBe(401);
        const forged = FakeAtlassian.requestToken(
          { ...tenant, sharedSecret: 'f'.repeat(40) },
          'GET',
          '/connect/whoami',
        );
        expect((await whoami(forged)).status).toBe(401);
        expect((await whoami(requestToken(newTenant()))).status).toBe(401);
        const token = requestToken(tenant);
        const twice = await http(`${t.url}/connect/whoami?jwt=${token}&jwt=${token}`);
        expect(twice.status).toBe(401);
        // A header and a parameter: the upstream might read the other one.
        const both = await http(`${t.url}/connect/whoami?jwt=${token}`, {
          headers: { authorization: `JWT ${token}` },
        });
        expect(both.status).toBe(401);
        const encodedName = await http(`${t.url}/connect/whoami?%6Awt=${token}`, {
          headers: { authorization: `JWT ${token}` },
        });
        expect(encodedName.status).toBe(401);
        // A query that cannot be decoded is a 401 for the token, not a 500.
        const badQuery = await whoami(
          FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami'),
          '/connect/whoami?q=%E0%A4%A',
        );
        expect(badQuery.status).toBe(401);
        expect(badQuery.body.detail).toMatch(/percent-encoding/);
      },
    );

    when('never takes a lifecycle token as a request token, nor a Warden token', async () => {
      const lifecycle = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/whoami', {
        claims: { qsh: qshOf('GET', '/connect/whoami') },
      });
      expect((await whoami(lifecycle)).status).toBe(401);
      expect(
        (await http(`${t.url}/connect/whoami`, { headers: { authorization: adminAuth() } })).status,
      ).toBe(401);
      const { authentication } = await login(t, {
        username: ADMIN_USERNAME,
        password: ADMIN_PASSWORD,
      });
      const access = await http(`${t.url}/connect/whoami`, {
        headers: { authorization: `Bearer ${authentication}` },
      });
      expect(access.status).toBe(401);
      // Nor a Warden token sent with the JWT scheme.
      expect((await whoami(authentication)).status).toBe(401);
    });

    when('is not accepted on Warden\u2019s other routes', async () => {
      const token = FakeAtlassian.requestToken(tenant, 'GET', '/system/whoami');
      const res = await http(`${t.url}/system/whoami`, {
        headers: { authorization: `JWT ${token}` },
      });
      expect(res.status).toBe(401);
    });
  });

  describe('the decision endpoint', () => {
    const tenant = newTenant();
    beforeAll(async () => {
      if (ready) await installed(tenant);
    });
    const decide = (token: string, method: string, uri: string) =>
      http(`${t.url}/authz/decision`, {
        headers: {
          authorization: `JWT ${token}`,
          'x-original-method': method,
          'x-original-uri': uri,
        },
      });

    when('judges a Connect JWT with qsh over the original method and URI', async () => {
      const uri = '/rest/app/1/item?ids=2&ids=1&q=a+b';
      const res = await decide(FakeAtlassian.requestToken(tenant, 'PUT', uri), 'PUT', uri);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-warden-auth-method')).toBe('connect');
      expect(res.headers.get('x-warden-tenant')).toBe(tenant.clientKey);
      expect(res.headers.get('x-warden-user')).toBe('acc-5b10a2844c20165700ede21g');
      expect(
        (await decide(FakeAtlassian.requestToken(tenant, 'PUT', uri), 'DELETE', uri)).status,
      ).toBe(401);
      expect(
        (
          await decide(
            FakeAtlassian.requestToken(tenant, 'PUT', uri),
            'PUT',
            '/rest/app/1/item?ids=3',
          )
        ).status,
      ).toBe(401);
    });

    when('does not take context tokens (the route is not marked for them)', async () => {
      const res = await decide(
        requestToken(tenant, { qsh: CONTEXT_QSH }),
        'GET',
        '/rest/app/1/item',
      );
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(/context/);
    });
  });

  describe('uninstall and the administrator\u2019s switch', () => {
    when('an uninstall stops the tenant\u2019s tokens at once and keeps its record', async () => {
      const tenant = newTenant();
      await installed(tenant);
      const token = requestToken(tenant);
      expect((await whoami(token)).status).toBe(200);
      expect((await uninstall(tenant)).status).toBe(204);
      expect((await whoami(token)).status).toBe(401);
      expect((await tenants()).find((x) => x.clientKey === tenant.clientKey)).toMatchObject({
        installed: false,
        enabled: true,
      });
      // The host's next install comes with a new token (a later iat).
      const reinstall = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', {
        claims: { iat: Math.floor(Date.now() / 1000) + 1 },
      });
      expect((await install(tenant, reinstall)).status).toBe(204);
      expect((await whoami(requestToken(tenant))).status).toBe(200);
    });

    when('uninstalling an unknown tenant is a 404, not a 500', async () => {
      expect((await uninstall(newTenant())).status).toBe(404);
    });

    when('an administrator disables and enables a tenant; others may not', async () => {
      const tenant = newTenant();
      await installed(tenant);
      const path = `${t.url}/admin/connect/tenants/${encodeURIComponent(tenant.clientKey)}`;
      const user = await newUser(t);
      const denied = await http(path, {
        method: 'PATCH',
        headers: { authorization: basic(user.username, user.password) },
        json: { enabled: false },
      });
      expect(denied.status).toBe(403);
      const off = await http(path, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { enabled: false },
      });
      expect(off.status).toBe(200);
      expect(off.body.enabled).toBe(false);
      expect((await whoami(requestToken(tenant))).status).toBe(401);
      // A reinstall does not undo an administrator's decision.
      expect((await install(tenant)).status).toBe(204);
      expect((await whoami(requestToken(tenant))).status).toBe(401);
      await http(path, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { enabled: true },
      });
      expect((await whoami(requestToken(tenant))).status).toBe(200);
      const missing = await http(`${t.url}/admin/connect/tenants/nobody`, {
        headers: { authorization: adminAuth() },
      });
      expect(missing.status).toBe(404);
      const bad = await http(path, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { enabled: 'no' },
      });
      expect(bad.status).toBe(400);
    });
  });

  describe('calling the tenant back', () => {
    const tenant = newTenant();
    beforeAll(async () => {
      if (ready) await installed(tenant);
    });
    const check = (body: Record<string, unknown>) =>
      http(`${t.url}/admin/connect/tenants/${encodeURIComponent(tenant.clientKey)}/check`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: body,
      });

    when(
      'signs as the app: iss the app key, aud the clientKey, qsh relative to the tenant',
      async () => {
        const res = await check({ path: '/rest/api/2/serverInfo?doHealthCheck=true' });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: 200, asUser: null });
        expect(atl.lastHostCall).toEqual({
          kind: 'jwt',
          who: tenant.clientKey,
          path: '/rest/api/2/serverInfo?doHealthCheck=true',
        });
      },
    );

    when('refuses to act as a user without the ACT_AS_USER scope', async () => {
      const res = await check({ accountId: 'acc-1' });
      expect(res.status).toBe(409);
      expect(res.body.detail).toMatch(/ACT_AS_USER/);
    });

    when('keeps calls on the tenant: an absolute or protocol-relative path is a 400', async () => {
      expect((await check({ path: 'https://evil.example/x' })).status).toBe(400);
      expect((await check({ path: '//evil.example/x' })).status).toBe(400);
    });

    when(
      'signs the path that goes on the wire: a space or non-ASCII arrives percent-encoded and the tenant accepts the qsh',
      async () => {
        for (const [path, wire] of [
          ['/rest/a b', '/rest/a%20b'],
          ['/rest/café/ü?q=ä ö&r=x y', '/rest/caf%C3%A9/%C3%BC?q=%C3%A4%20%C3%B6&r=x%20y'],
          ['/rest/{x}|[y]', '/rest/%7Bx%7D%7C%5By%5D'],
        ]) {
          atl.lastHostCall = null;
          const res = await check({ path });
          expect(res.status).toBe(200);
          expect(res.body).toEqual({ status: 200, asUser: null });
          expect(atl.lastHostCall).toEqual({ kind: 'jwt', who: tenant.clientKey, path: wire });
        }
      },
    );

    when(
      'refuses with a 400 naming the path what cannot be a relative URL path, sending nothing',
      async () => {
        for (const path of [
          '/rest/a\r\nX-Injected: 1',
          '/rest/a\nb',
          '/rest/a\tb',
          '/rest/a\u0000b',
          '/rest/../../admin',
          '/rest/%2e%2e/admin',
          '/rest?a=%ZZ',
          '/rest/api/2/search?jql=%zz',
          '/rest/%',
          '/rest\\x',
          '/rest#x',
          'rest/x',
        ]) {
          atl.lastHostCall = null;
          const res = await check({ path });
          expect({ path, status: res.status }).toEqual({ path, status: 400 });
          expect(res.headers.get('content-type')).toContain('application/problem+json');
          expect(res.body.code).toBe('validation_failed');
          expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['path']);
          expect(atl.lastHostCall).toBeNull();
        }
      },
    );

    when('refuses an account id that is not one with a 400 naming the field', async () => {
      const res = await check({ accountId: 'a b' });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors).toEqual([
        { field: 'accountId', messages: [expect.stringMatching(/printable ASCII/)] },
      ]);
    });

    when('answers 404 tenant_not_found for an unknown tenant, as GET and PATCH do', async () => {
      const url = `${t.url}/admin/connect/tenants/${encodeURIComponent('jira:nobody-here')}`;
      const headers = { authorization: adminAuth() };
      const res = await http(`${url}/check`, { method: 'POST', headers, json: {} });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('tenant_not_found');
      expect((await http(url, { headers })).body.code).toBe('tenant_not_found');
      const patch = await http(url, { method: 'PATCH', headers, json: { enabled: true } });
      expect(patch.body.code).toBe('tenant_not_found');
    });

    when('answers 409 tenant_not_callable for a disabled or an uninstalled tenant', async () => {
      const other = newTenant();
      await installed(other);
      const url = `${t.url}/admin/connect/tenants/${encodeURIComponent(other.clientKey)}`;
      const headers = { authorization: adminAuth() };
      const call = () => http(`${url}/check`, { method: 'POST', headers, json: {} });
      expect((await call()).status).toBe(200);
      await http(url, { method: 'PATCH', headers, json: { enabled: false } });
      const disabled = await call();
      expect(disabled.status).toBe(409);
      expect(disabled.body.code).toBe('tenant_not_callable');
      await http(url, { method: 'PATCH', headers, json: { enabled: true } });
      expect((await call()).status).toBe(200);
      expect((await uninstall(other)).status).toBe(204);
      const gone = await call();
      expect(gone.status).toBe(409);
      expect(gone.body.code).toBe('tenant_not_callable');
    });

    when(
      'answers 409, not 404, for a stored tenant whose shared secret cannot be opened',
      async () => {
        const victim = newTenant();
        const donor = newTenant();
        await installed(victim);
        await installed(donor);
        // A sealed secret is bound to its tenant: moved to another, it cannot be opened.
        const p = (n: number) => (database === 'postgres' ? `$${n}` : '?');
        await t.dataSource.query(
          `UPDATE connect_tenants SET shared_secret = (SELECT shared_secret FROM connect_tenants WHERE client_key = ${p(1)}) WHERE client_key = ${p(2)}`,
          [donor.clientKey, victim.clientKey],
        );
        const url = `${t.url}/admin/connect/tenants/${encodeURIComponent(victim.clientKey)}`;
        const headers = { authorization: adminAuth() };
        // The switch reloads the row on this instance, which now cannot open its secret.
        expect(
          (await http(url, { method: 'PATCH', headers, json: { enabled: true } })).status,
        ).toBe(200);
        const res = await http(`${url}/check`, { method: 'POST', headers, json: {} });
        expect(res.status).toBe(409);
        expect(res.body.code).toBe('tenant_not_callable');
        expect(res.body.detail).toMatch(/install again/);
      },
    );
  });

  when('documents the descriptor and the tenant switch with schemas and examples', async () => {
    const doc = (await http(`${t.url}/docs/openapi.json`)).body;
    const ok = doc.paths['/atlassian-connect.json'].get.responses['200'];
    const ref: string = ok.content['application/json'].schema.$ref;
    const descriptor = doc.components.schemas[ref.split('/').pop()!];
    expect(descriptor.properties.authentication.example).toEqual({ type: 'jwt' });
    expect(descriptor.properties.apiMigrations.example).toEqual({
      'signed-install': true,
      'context-qsh': true,
    });
    expect(descriptor.properties.lifecycle.example).toEqual({
      installed: '/connect/installed',
      uninstalled: '/connect/uninstalled',
    });
    const patch = doc.paths['/admin/connect/tenants/{clientKey}'].patch.requestBody;
    const body =
      doc.components.schemas[
        (patch.content['application/json'].schema.$ref as string).split('/').pop()!
      ];
    expect(body.properties.enabled.example).toBe(false);
    const check = doc.paths['/admin/connect/tenants/{clientKey}/check'].post.responses;
    expect(Object.keys(check).sort()).toEqual(['200', '400', '401', '403', '404', '409', '502']);
  });
});

describe('Connect: acting as a user (JWT bearer grant)', () => {
  let t: TestApp;
  const atl = new FakeAtlassian();
  const tenant = newTenant();

  beforeAll(async () => {
    await atl.start();
    t = await startApp({
      env: {
        WARDEN_BASE_URL: BASE_URL,
        CONNECT_KEYS_URL: atl.keysUrl,
        CONNECT_AUTH_SERVER_URL: atl.url,
        CONNECT_SCOPES: 'READ,WRITE,ACT_AS_USER',
      },
    });
    atl.tenants.set(tenant.clientKey, tenant);
    const res = await http(`${t.url}/connect/installed`, {
      method: 'POST',
      headers: {
        authorization: `JWT ${atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed')}`,
      },
      json: atl.installPayload(tenant),
    });
    expect(res.status).toBe(204);
  });
  afterAll(async () => {
    await t?.close();
    await atl.stop();
  });

  const check = (accountId: string) =>
    http(`${t.url}/admin/connect/tenants/${encodeURIComponent(tenant.clientKey)}/check`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
      json: { path: '/rest/api/3/myself', accountId },
    });

  it('refuses an account id with a space with a 400 naming the field, asking nobody', async () => {
    const before = atl.tokenRequests;
    const res = await check('a b');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['accountId']);
    expect(atl.tokenRequests).toBe(before);
  });

  it('lists ACT_AS_USER in the descriptor', async () => {
    const res = await http(`${t.url}/atlassian-connect.json`);
    expect(res.body.scopes).toEqual(['READ', 'WRITE', 'ACT_AS_USER']);
  });

  it('gets an access token by the grant, calls as the user, and reuses the token', async () => {
    const before = atl.tokenRequests;
    const first = await check('acc-alice');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ status: 200, asUser: 'acc-alice' });
    expect(atl.lastHostCall).toEqual({
      kind: 'bearer',
      who: 'acc-alice',
      path: '/rest/api/3/myself',
    });
    expect((await check('acc-alice')).status).toBe(200);
    expect(atl.tokenRequests - before).toBe(1);
    expect((await check('acc-bob')).status).toBe(200);
    expect(atl.lastHostCall?.who).toBe('acc-bob');
    expect(atl.tokenRequests - before).toBe(2);
  });

  it('answers 502 when the authorization server fails, and 200 again once it is back', async () => {
    atl.tokenDown = true;
    try {
      const res = await check('acc-carol');
      expect(res.status).toBe(502);
      expect(res.body.code).toBe('tenant_call_failed');
    } finally {
      atl.tokenDown = false;
    }
    expect((await check('acc-carol')).status).toBe(200);
  });
});
