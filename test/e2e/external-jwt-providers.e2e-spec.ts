import {
  DEFAULT_SETTINGS,
  IDENTITY_PROVIDER_DEFAULTS,
} from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { TestApp } from '../support/app';
import { adminAuth, newUser } from '../support/factories';
import { http } from '../support/http';
import { FakeIdp } from '../support/idp';
import { operatorPatch, storeSettingsDocument } from '../support/settings';
import { eventually } from '../support/eventually';
import { SecretBox } from '../../src/common/crypto/secret-box';
import { SettingsEntity } from '../../src/settings/settings.entity';
import { SETTINGS_ROW } from '../../src/settings/settings.repository';
import { useExternalIdpApp } from '../support/external-idp';

/** Presets, several providers at once, documents of the single-provider era, and the admin's token tester. */
describe('external identity provider tokens: managing providers', () => {
  const external = useExternalIdpApp();
  const { idp, whoami, jwksProvider, useProviders, useJwks } = external;
  let t: TestApp;
  beforeAll(() => {
    t = external.t;
  });

  describe('Forge Remote', () => {
    const appId = 'ari:cloud:ecosystem::app/8f4c2a63-5cf3-4d1b-9d57-52b2e1b0b8d1';
    const installation = 'ari:cloud:ecosystem::installation/c3658f0f-8380-41e5-bb1e-68903f8efdca';
    const fit = (claims: Record<string, unknown> = {}) =>
      idp.sign({
        iss: 'forge/invocation-token',
        aud: appId,
        sub: undefined,
        app: {
          id: appId,
          installationId: installation,
          apiBaseUrl: 'https://api.atlassian.com/ex/jira/5b1d',
          environment: { type: 'PRODUCTION', id: 'e-1' },
          module: { type: 'xen:macro', key: 'm' },
        },
        principal: '557058:f58131cb-b67d-43c7-b30d-6b58d40bd077',
        ...claims,
      });
    const preset = (body: Record<string, unknown>, path = 'identity-providers') =>
      http(`${t.url}/admin/${path}/presets/forge-remote`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: body,
      });
    afterAll(() => useJwks());

    it("the preset adds a provider with Atlassian's JWK set, issuer and the app as audience, and leaves the others", async () => {
      await useJwks();
      expect((await preset({ appId: 'not-an-ari' })).status).toBe(400);
      expect((await preset({ appId, name: 'not a name' })).status).toBe(400);
      const res = await preset({ appId });
      expect(res.status).toBe(200);
      expect(res.body.identityProviders.map((p: { name: string }) => p.name)).toEqual([
        'corp',
        'forge-remote',
      ]);
      expect(res.body.identityProviders[1]).toMatchObject({
        enabled: true,
        mode: 'jwks',
        jwksUrl: 'https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json',
        issuer: 'forge/invocation-token',
        audience: appId,
        algorithms: ['RS256'],
        usernameClaim: 'app.installationId',
      });
    });

    it('the preset replaces a provider of the same name; the old route acts on "default"', async () => {
      await useJwks();
      const replaced = await preset({ appId, name: 'corp' });
      expect(replaced.status).toBe(200);
      expect(replaced.body.identityProviders).toEqual([
        expect.objectContaining({ name: 'corp', issuer: 'forge/invocation-token' }),
      ]);
      await useJwks();
      const old = await preset({ appId, caller: 'account' }, 'external-jwt');
      expect(old.status).toBe(200);
      expect(old.body.identityProviders.map((p: { name: string }) => p.name)).toEqual([
        'corp',
        'default',
      ]);
      expect(old.body.identityProviders[1]).toMatchObject({ usernameClaim: 'principal' });
    });

    it('an invocation token names the installation, with the app and account as context', async () => {
      await useProviders();
      await preset({ appId });
      // The test's own IdP stands in for Atlassian's key CDN.
      const [forge] = t.app.get(SettingsService).get().identityProviders;
      await useProviders({ ...forge, jwksUrl: `${idp.url}/jwks?forge` });
      const res = await whoami(fit());
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        username: installation,
        authMethod: 'external',
        invocation: {
          app: appId,
          installation,
          account: '557058:f58131cb-b67d-43c7-b30d-6b58d40bd077',
          environment: 'PRODUCTION',
        },
      });
      // Another app's token is for another audience.
      const other = fit({ aud: 'ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000' });
      expect((await whoami(other)).status).toBe(401);
    });
  });

  describe('several providers at once', () => {
    const partner = new FakeIdp('https://partner.example.test/');
    beforeAll(() => partner.start());
    afterAll(() => partner.stop());
    const partnerProvider = (extra: Record<string, unknown> = {}) =>
      jwksProvider({
        name: 'partner',
        issuer: partner.issuer,
        jwksUrl: `${partner.url}/jwks`,
        audience: 'warden-partner',
        usernameRegex: null,
        ...extra,
      });

    it("routes each token to the provider of its issuer, and one provider's change keeps the other's keys", async () => {
      await useProviders(jwksProvider({ jwksUrl: `${idp.url}/jwks?several` }), partnerProvider());
      const corpBefore = idp.jwksRequests;
      const partnerBefore = partner.jwksRequests;
      const corp = await whoami(idp.sign({ sub: 'from-corp' }));
      expect(corp.body).toMatchObject({ username: 'from-corp', authMethod: 'external' });
      const other = await whoami(partner.sign({ sub: 'from-partner', aud: 'warden-partner' }));
      expect(other.body).toMatchObject({ username: 'from-partner', authMethod: 'external' });
      expect([idp.jwksRequests, partner.jwksRequests]).toEqual([corpBefore + 1, partnerBefore + 1]);
      // Each provider's audience is its own: the corporate audience does not pass for the partner.
      expect((await whoami(partner.sign({ sub: 'p', aud: 'warden-api' }))).status).toBe(401);
      // A token signed by the partner's key but naming the corporate issuer is the corporate IdP's.
      const crossed = partner.sign({ iss: idp.issuer, aud: 'warden-api' });
      expect((await whoami(crossed)).status).toBe(401);

      // The partner's mapping changes: its key source is kept, the corporate one too.
      await useProviders(
        jwksProvider({ jwksUrl: `${idp.url}/jwks?several` }),
        partnerProvider({ usernameRegex: 'p-(.+)' }),
      );
      expect(
        (await whoami(partner.sign({ sub: 'p-lee', aud: 'warden-partner' }))).body,
      ).toMatchObject({
        username: 'lee',
      });
      expect((await whoami(idp.sign({ sub: 'again' }))).status).toBe(200);
      expect([idp.jwksRequests, partner.jwksRequests]).toEqual([corpBefore + 1, partnerBefore + 1]);
      // Its JWKS URL changes: only its keys are fetched anew.
      await useProviders(
        jwksProvider({ jwksUrl: `${idp.url}/jwks?several` }),
        partnerProvider({ jwksUrl: `${partner.url}/jwks?moved` }),
      );
      expect((await whoami(partner.sign({ sub: 'moved', aud: 'warden-partner' }))).status).toBe(
        200,
      );
      expect((await whoami(idp.sign({ sub: 'still' }))).status).toBe(200);
      expect([idp.jwksRequests, partner.jwksRequests]).toEqual([corpBefore + 1, partnerBefore + 2]);
      // Switched off, its tokens are no provider's.
      await useProviders(jwksProvider(), partnerProvider({ enabled: false }));
      expect((await whoami(partner.sign({ sub: 'off', aud: 'warden-partner' }))).status).toBe(401);
    });
  });

  describe('documents of the single-provider era', () => {
    afterAll(() => useJwks());

    it('a PATCH of externalJwt acts on the provider named "default" and leaves the others', async () => {
      await useJwks();
      await operatorPatch(t, {
        externalJwt: {
          enabled: true,
          mode: 'jwks',
          jwksUrl: `${idp.url}/jwks?legacy`,
          issuer: 'https://legacy.example.test/',
          audience: 'legacy-api',
        },
      });
      const settings = t.app.get(SettingsService).get();
      expect(settings.identityProviders.map((p) => p.name)).toEqual(['corp', 'default']);
      expect(settings.identityProviders[1]).toEqual({
        ...IDENTITY_PROVIDER_DEFAULTS,
        name: 'default',
        enabled: true,
        mode: 'jwks',
        jwksUrl: `${idp.url}/jwks?legacy`,
        issuer: 'https://legacy.example.test/',
        audience: 'legacy-api',
      });
      await operatorPatch(t, { externalJwt: { enabled: false } });
      expect(t.app.get(SettingsService).get().identityProviders[1].enabled).toBe(false);
      await operatorPatch(t, { externalJwt: null });
      expect(
        t.app
          .get(SettingsService)
          .get()
          .identityProviders.map((p) => p.name),
      ).toEqual(['corp']);
    });

    it('a stored externalJwt block with a sealed secret is moved, re-sealed and stored by the instance that loads it', async () => {
      const settings = t.app.get(SettingsService);
      const versionBefore = Number(settings.etag().replace(/"/g, ''));
      await storeSettingsDocument(t, {
        ...structuredClone(DEFAULT_SETTINGS),
        identityProviders: undefined,
        externalJwt: {
          enabled: true,
          mode: 'introspection',
          introspectionUrl: `${idp.url}/introspect`,
          clientId: idp.client.id,
          clientSecret: idp.client.secret,
          issuer: idp.issuer,
          audience: null,
          algorithms: ['RS256'],
          usernameClaim: 'username',
          usernameRegex: null,
          groupsClaim: null,
          introspectionCacheSeconds: 60,
          opaqueTokens: '^legacy-[a-z0-9]+$',
          mapToLocalUser: false,
        },
      });
      // Picked up by polling the version, upgraded, and stored once more (version + 2 in all).
      const etag = await eventually(
        async () => settings.etag(),
        (value) => value === `"${versionBefore + 2}"`,
      );
      expect(etag).toBe(`"${versionBefore + 2}"`);
      expect(settings.get().identityProviders).toEqual([
        expect.objectContaining({ name: 'default', clientSecret: idp.client.secret }),
      ]);
      const row = await t.dataSource
        .getRepository(SettingsEntity)
        .findOneByOrFail({ id: SETTINGS_ROW });
      const stored = JSON.parse(row.document);
      expect(stored.externalJwt).toBeUndefined();
      expect(stored.identityProviders[0].clientSecret).toMatch(/^v1\./);
      expect(
        new SecretBox(t.config.encryptionKey.key).openText(
          stored.identityProviders[0].clientSecret,
          'settings:identityProviders[].clientSecret',
        ),
      ).toBe(idp.client.secret);
      // And the secret works: the IdP checks the client's credentials.
      idp.active.set('legacy-1', { active: true, username: 'old-timer' });
      expect((await whoami('legacy-1')).body).toMatchObject({ username: 'old-timer' });
    });
  });

  describe('POST /admin/identity-providers/test', () => {
    beforeAll(() => useJwks());
    const check = (token: string, path = 'identity-providers') =>
      http(`${t.url}/admin/${path}/test`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: { token },
      });

    it('says valid and whom the token maps to, or why not, and never echoes the token', async () => {
      const good = idp.sign({ sub: 'jack', groups: ['ops'] });
      const ok = await check(good);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({
        provider: 'corp',
        valid: true,
        username: 'jack',
        groups: ['ops'],
      });
      expect(ok.text).not.toContain(good);
      // The route of the single-provider era answers the same.
      expect((await check(good, 'external-jwt')).body).toEqual(ok.body);
      const expired = idp.sign({ exp: Math.floor(Date.now() / 1000) - 600 });
      const late = await check(expired);
      expect(late.body).toMatchObject({ provider: 'corp', valid: false, reason: 'expired' });
      expect(late.body.detail).toEqual(expect.any(String));
      expect((await check(idp.sign({ aud: 'someone-else' }))).body).toMatchObject({
        provider: 'corp',
        valid: false,
        reason: 'wrong_audience',
      });
      expect((await check(idp.sign({ iss: 'https://evil.example/' }))).body).toMatchObject({
        provider: null,
        valid: false,
        reason: 'wrong_issuer',
      });
      expect((await check('not-any-providers-opaque-token')).body).toMatchObject({
        provider: null,
        valid: false,
        reason: 'no_provider',
      });
      const user = await newUser(t);
      const forbidden = await http(`${t.url}/admin/identity-providers/test`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`,
        },
        json: { token: good },
      });
      expect(forbidden.status).toBe(403);
    });
  });
});
