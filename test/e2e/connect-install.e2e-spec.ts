import { createSecretKey } from 'node:crypto';
import { signJws } from '../support/jws';
import { qshOf } from '../../src/connect/qsh';
import { DATABASES, itWhen, TestApp } from '../support/app';
import { FakeAtlassian, newTenant } from '../support/atlassian';
import { auditEvents } from '../support/audit';
import { http } from '../support/http';
import { newRsaKey } from '../support/idp';
import { b64, CONNECT_BASE_URL as BASE_URL, useConnectApp } from '../support/connect';

/** The install callback: Atlassian's signature, the replay guard, the payload. */
describe.each(DATABASES)('Atlassian Connect: signed install (%s)', (database) => {
  const connect = useConnectApp(database);
  const { atl, install, whoami, requestToken, tenants, installed } = connect;
  const when = itWhen(database);
  let t: TestApp;
  beforeAll(() => {
    if (connect.ready) t = connect.t;
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
});
