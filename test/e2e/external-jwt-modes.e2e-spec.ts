import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signJws } from '../support/jws';
import { Clock } from '../../src/common/clock';
import { TestApp } from '../support/app';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';
import { newRsaKey } from '../support/idp';
import { useExternalIdpApp } from '../support/external-idp';

/** The other key sources: a PEM public key, an X.509 certificate, and an introspection endpoint. */
describe('external identity provider tokens: publicKey and introspection modes', () => {
  const external = useExternalIdpApp();
  const { idp, whoami, useProviders, useJwks } = external;
  let t: TestApp;
  beforeAll(() => {
    t = external.t;
  });

  describe('publicKey mode', () => {
    it('verifies with a PEM public key; ES256 is refused while only RS256 is allowed', async () => {
      const key = newRsaKey('pem');
      await useJwks({
        mode: 'publicKey',
        jwksUrl: null,
        publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }),
      });
      expect((await whoami(idp.sign({ sub: 'erin' }, key))).body.username).toBe('erin');
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const es = idp.sign({}, { kid: 'pem', alg: 'ES256', ...ec });
      expect((await whoami(es)).status).toBe(401);
    });
  });

  describe('publicKey mode with an X.509 certificate', () => {
    it("verifies with the certificate's key, and not once the certificate has expired", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'warden-cert-'));
      try {
        const made = spawnSync('openssl', [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=idp.example.test',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ]);
        expect(made.status).toBe(0);
        const privateKey = createPrivateKey(readFileSync(join(dir, 'key.pem')));
        const certificate = readFileSync(join(dir, 'cert.pem'), 'utf8');
        await useJwks({ mode: 'publicKey', jwksUrl: null, publicKey: certificate });
        const key = {
          kid: 'cert',
          alg: 'RS256' as const,
          privateKey,
          publicKey: createPublicKey(privateKey),
        };
        expect((await whoami(idp.sign({ sub: 'mona' }, key))).body.username).toBe('mona');
        // Two days on the certificate has expired (a token from then, so only the certificate fails).
        const later = Date.now() + 2 * 86_400_000;
        const clock = jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => later);
        try {
          const token = signJws(
            { typ: 'JWT' },
            {
              iss: idp.issuer,
              aud: 'warden-api',
              sub: 'mona-later',
              exp: Math.floor(later / 1000) + 300,
            },
            { alg: 'RS256', key: privateKey },
          );
          expect((await whoami(token)).status).toBe(401);
          const why = await http(`${t.url}/admin/identity-providers/test`, {
            method: 'POST',
            headers: { authorization: adminAuth() },
            json: { token },
          });
          expect(why.body).toMatchObject({ provider: 'corp', valid: false, reason: 'unknown_key' });
          expect(why.body.detail).toContain('validity period');
        } finally {
          clock.mockRestore();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('introspection mode', () => {
    // Native tokens are allowed (the default): only tokens matching the pattern go to the IdP.
    const useIntrospection = (seconds: number) =>
      useProviders({
        name: 'asked',
        enabled: true,
        mode: 'introspection',
        introspectionUrl: `${idp.url}/introspect`,
        clientId: idp.client.id,
        clientSecret: idp.client.secret,
        issuer: idp.issuer,
        audience: null,
        usernameClaim: 'username',
        usernameRegex: null,
        groupsClaim: 'groups',
        introspectionCacheSeconds: seconds,
        opaqueTokens: '^(?:opaque|made-up)-[A-Za-z0-9-]+$',
      });
    const exp = () => Math.floor(Date.now() / 1000) + 300;

    it('an active opaque token is let in; an inactive one is a 401', async () => {
      await useIntrospection(60);
      idp.active.set('opaque-1', {
        active: true,
        username: 'frank',
        iss: idp.issuer,
        exp: exp(),
        groups: 'a b',
      });
      const ok = await whoami('opaque-1');
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ username: 'frank', groups: ['a', 'b'] });
      expect((await whoami('opaque-unknown')).status).toBe(401);
    });

    it('answers are reused for the TTL; with TTL 0 a revoked token stops at once', async () => {
      await useIntrospection(60);
      idp.active.set('opaque-2', { active: true, username: 'gina', exp: exp() });
      const before = idp.introspectionRequests;
      expect((await whoami('opaque-2')).status).toBe(200);
      expect((await whoami('opaque-2')).status).toBe(200);
      expect(idp.introspectionRequests).toBe(before + 1);

      await useIntrospection(0);
      idp.active.set('opaque-3', { active: true, username: 'hank', exp: exp() });
      expect((await whoami('opaque-3')).status).toBe(200);
      idp.active.delete('opaque-3');
      expect((await whoami('opaque-3')).status).toBe(401);
    });

    it('made-up tokens cost the IdP a bounded load: one call per token, a cap on calls at once', async () => {
      await useIntrospection(60);
      const before = idp.introspectionRequests;
      // The same unknown token, repeated and at once: one call, then the inactive answer is kept.
      const same = await Promise.all(Array.from({ length: 20 }, () => whoami('made-up-same')));
      expect(same.every((r) => r.status === 401)).toBe(true);
      expect((await whoami('made-up-same')).status).toBe(401);
      expect(idp.introspectionRequests).toBe(before + 1);
      // Forty different ones against a slow IdP: 32 calls at most, the rest a 503.
      idp.introspectionDelayMs = 500;
      try {
        const flood = await Promise.all(
          Array.from({ length: 40 }, (_, i) => whoami(`made-up-${i}`)),
        );
        const statuses = flood.map((r) => r.status);
        expect(statuses.filter((code) => code === 401)).toHaveLength(32);
        expect(statuses.filter((code) => code === 503)).toHaveLength(8);
        expect(idp.introspectionRequests).toBe(before + 1 + 32);
      } finally {
        idp.introspectionDelayMs = 0;
      }
    });

    it('an answer that arrives after a settings change is used once, not remembered', async () => {
      await useIntrospection(60);
      idp.active.set('opaque-5', { active: true, username: 'lee', exp: exp() });
      idp.introspectionDelayMs = 400;
      try {
        const before = idp.introspectionRequests;
        const first = whoami('opaque-5');
        await new Promise((r) => setTimeout(r, 100));
        await useIntrospection(61); // the provider changed while its IdP is being asked
        expect((await first).status).toBe(200);
        idp.introspectionDelayMs = 0;
        expect((await whoami('opaque-5')).status).toBe(200);
        expect(idp.introspectionRequests).toBe(before + 2);
      } finally {
        idp.introspectionDelayMs = 0;
      }
    });

    it('an introspection endpoint that is down is a 503 problem, not a 500 and not an allow', async () => {
      await useIntrospection(0);
      idp.active.set('opaque-4', { active: true, username: 'ivy', exp: exp() });
      idp.introspectionDown = true;
      try {
        const res = await whoami('opaque-4');
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('idp_unavailable');
      } finally {
        idp.introspectionDown = false;
      }
    });
  });
});
