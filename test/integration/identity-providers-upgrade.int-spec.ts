import { IdentityProviders1764700000000 } from '../../src/database/migrations/1764700000000-identity-providers';
import { DATABASES, itWhen } from '../support/app';
import { settingsUpgradeDatabase } from '../support/settings-upgrade';

/** A stored document as the release before identityProviders wrote it (externalJwt in full). */
function legacyDocument(externalJwt: Record<string, unknown>): Record<string, any> {
  return {
    restApiAuthentication: { enabled: true },
    rateLimit: { enabled: true, requests: 1234, windowSeconds: 60 },
    externalJwt: {
      enabled: false,
      mode: 'publicKey',
      publicKey: null,
      jwksUrl: null,
      introspectionUrl: null,
      clientId: null,
      clientSecret: null,
      issuer: null,
      audience: null,
      algorithms: ['RS256'],
      usernameClaim: 'sub',
      usernameRegex: null,
      groupsClaim: null,
      introspectionCacheSeconds: 60,
      opaqueTokens: null,
      mapToLocalUser: false,
      allowAdminMapping: false,
      ...externalJwt,
    },
  };
}

/**
 * The `externalJwt` block becomes the provider named `default` in identityProviders, on SQLite
 * and PostgreSQL; one holding a sealed client secret is left for the application (which has
 * the key to seal it anew).
 */
describe.each(DATABASES)('settings upgrade: externalJwt → identityProviders (%s)', (database) => {
  const { upgradeFrom } = settingsUpgradeDatabase(database, IdentityProviders1764700000000, 4);
  const maybe = itWhen(database);

  maybe('a configured block becomes the provider "default", the rest untouched', async () => {
    const stored = legacyDocument({
      enabled: true,
      mode: 'jwks',
      jwksUrl: 'https://idp.example.test/jwks',
      issuer: 'https://idp.example.test/',
      audience: 'warden-api',
      groupsClaim: 'groups',
    });
    const after = await upgradeFrom(stored);
    expect(after.version).toBe(5);
    expect(after.document.externalJwt).toBeUndefined();
    expect(after.document.identityProviders).toEqual([{ ...stored.externalJwt, name: 'default' }]);
    expect(after.document.rateLimit).toEqual(stored.rateLimit);
  });

  maybe('a block that was never configured becomes an empty list', async () => {
    const after = await upgradeFrom(legacyDocument({}));
    expect(after.version).toBe(5);
    expect(after.document.identityProviders).toEqual([]);
    expect(after.document.externalJwt).toBeUndefined();
  });

  maybe(
    'a block with a sealed client secret is left for the application, version included',
    async () => {
      const stored = legacyDocument({
        enabled: true,
        mode: 'introspection',
        introspectionUrl: 'https://idp.example.test/introspect',
        clientId: 'warden',
        clientSecret: 'v1.aaaa.bbbb.cccc',
        opaqueTokens: '^idp_[a-z]{8}$',
      });
      const after = await upgradeFrom(stored);
      expect(after).toEqual({ version: 4, document: stored });
    },
  );

  maybe('a document already in the new shape is left alone', async () => {
    const stored = {
      rateLimit: { enabled: true, requests: 5, windowSeconds: 60 },
      identityProviders: [],
    };
    expect(await upgradeFrom(stored)).toEqual({ version: 4, document: stored });
  });
});
