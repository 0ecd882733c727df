import { generateKeyPairSync } from 'node:crypto';
import { DomainError } from '../../src/common/problem/domain-error';
import { SettingsService } from '../../src/settings/settings.service';
import { startApp, TestApp } from '../support/app';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';
import { useExternalIdpApp } from '../support/external-idp';

/** An IdP that cannot be asked is a 503, never an allow; the settings refuse what cannot work or is too open. */
describe('external identity provider tokens: failures and unusable settings', () => {
  const external = useExternalIdpApp();
  const { idp, whoami, jwksProvider, useJwks } = external;
  let t: TestApp;
  beforeAll(() => {
    t = external.t;
  });

  describe('an unreachable or misbehaving JWKS URL is a 503, never an allow', () => {
    it('a slow JWK set', async () => {
      idp.jwksDelayMs = 4000;
      try {
        await useJwks({ jwksUrl: `${idp.url}/jwks?slow` });
        const res = await whoami(idp.sign({}));
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('idp_unavailable');
        expect(res.body.detail).toContain('timed out');
      } finally {
        idp.jwksDelayMs = 0;
      }
    }, 15_000);

    it('a JWKS URL nobody answers: the caller is told so, not where, nor the network error', async () => {
      await useJwks({ jwksUrl: 'http://127.0.0.1:1/jwks' });
      const res = await whoami(idp.sign({}));
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('idp_unavailable');
      expect(res.body.detail).toContain('did not answer');
      expect(res.body.detail).not.toMatch(/127\.0\.0\.1|:1\b|ECONNREFUSED|fetch failed/);
    });

    it('an oversized JWK set', async () => {
      idp.jwksPaddingBytes = 400 * 1024;
      try {
        await useJwks({ jwksUrl: `${idp.url}/jwks?big` });
        const res = await whoami(idp.sign({}));
        expect(res.status).toBe(503);
        expect(res.body.detail).toContain('more than');
      } finally {
        idp.jwksPaddingBytes = 0;
      }
    });

    it('a JWKS URL on plain http is refused unless allowed', async () => {
      const strict = await startApp();
      try {
        const current = await http(`${strict.url}/admin/settings`, {
          headers: { authorization: adminAuth() },
        });
        const res = await http(`${strict.url}/admin/settings`, {
          method: 'PATCH',
          headers: { authorization: adminAuth(), 'if-match': current.headers.get('etag')! },
          json: { identityProviders: [jwksProvider()] },
        });
        expect(res.status).toBe(400);
        expect(res.body.errors).toEqual([
          expect.objectContaining({ field: 'identityProviders[0].jwksUrl' }),
        ]);
      } finally {
        await strict.close();
      }
    });
  });

  describe('the settings refuse an unusable or too-open configuration when saved', () => {
    const save = (...identityProviders: Record<string, unknown>[]) =>
      t.app
        .get(SettingsService)
        .patch({ identityProviders }, { ifMatch: '*', force: true, actor: { username: 'test' } });
    const fieldsOf = async (...entries: Record<string, unknown>[]) => {
      try {
        await save(...entries.map((entry, i) => ({ name: `idp-${i}`, ...entry })));
        return [];
      } catch (err) {
        return ((err as DomainError).extras.fields?.errors as { field: string }[]).map(
          (e) => e.field,
        );
      }
    };
    afterAll(() => useJwks());

    it('jwks and publicKey modes need an issuer and an audience (an IdP is often shared)', async () => {
      expect(
        await fieldsOf({
          enabled: true,
          mode: 'jwks',
          jwksUrl: `${idp.url}/jwks`,
          issuer: null,
          audience: null,
        }),
      ).toEqual(['identityProviders[0].issuer', 'identityProviders[0].audience']);
    });

    it("the issuer is never Warden's own", async () => {
      expect(await fieldsOf({ enabled: false, issuer: t.config.issuer })).toEqual([
        'identityProviders[0].issuer',
      ]);
    });

    it('a public key must parse and fit an allowed algorithm', async () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const base = { enabled: true, mode: 'publicKey', issuer: idp.issuer, audience: 'warden-api' };
      expect(await fieldsOf({ ...base, publicKey: 'not a key' })).toEqual([
        'identityProviders[0].publicKey',
      ]);
      expect(
        await fieldsOf({
          ...base,
          algorithms: ['RS256'],
          publicKey: ec.publicKey.export({ type: 'spki', format: 'pem' }),
        }),
      ).toEqual(['identityProviders[0].publicKey']);
    });

    it('names and issuers are unique; EdDSA, HS256 and bad names are refused by field', async () => {
      const base = jwksProvider();
      expect(
        await fieldsOf(base, { ...base, name: 'corp', issuer: 'https://other.example/' }),
      ).toEqual(['identityProviders[1].name']);
      expect(await fieldsOf(base, { ...base, name: 'second' })).toEqual([
        'identityProviders[1].issuer',
      ]);
      expect(await fieldsOf(base, { ...base, issuer: 'x', algorithms: ['EdDSA'] })).toEqual([
        'identityProviders[1].algorithms',
      ]);
      expect(await fieldsOf({ ...base, algorithms: ['HS256'] })).toEqual([
        'identityProviders[0].algorithms',
      ]);
      expect(
        await fieldsOf({ ...base, name: 'no spaces' }, { ...base, name: 'x'.repeat(65) }),
      ).toEqual(['identityProviders[0].name', 'identityProviders[1].name']);
    });

    it('two introspection providers whose opaqueTokens could claim one token are refused', async () => {
      const asked = (opaqueTokens: string, issuer: string) => ({
        enabled: true,
        mode: 'introspection',
        introspectionUrl: `${idp.url}/introspect`,
        issuer,
        opaqueTokens,
      });
      const a = asked('^idp_[A-Za-z0-9]{40}$', 'https://a.example/');
      expect(await fieldsOf(a, asked('^idp_[A-Za-z0-9]{40}$', 'https://b.example/'))).toEqual([
        'identityProviders[1].opaqueTokens',
      ]);
      expect(await fieldsOf(a, asked('^[A-Za-z0-9_]{44}$', 'https://b.example/'))).toEqual([
        'identityProviders[1].opaqueTokens',
      ]);
      expect(await fieldsOf(a, asked('^oth_[A-Za-z0-9]{40}$', 'https://b.example/'))).toEqual([]);
    });
  });
});
