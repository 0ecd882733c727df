import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source';
import { runMigrations } from '../../src/database/migrate';
import { IdentityProviders1764700000000 } from '../../src/database/migrations/1764700000000-identity-providers';
import { DATABASES, databaseReady, itWhen } from '../support/app';
import { createTestDatabase } from '../support/postgres';

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
  let options: DataSourceOptions;
  let cleanup: () => Promise<void> = async () => undefined;
  let dataSource: DataSource | undefined;

  beforeEach(async () => {
    if (!(await databaseReady(database))) return;
    if (database === 'postgres') {
      const db = await createTestDatabase();
      options = buildDataSourceOptions({ database: { kind: 'postgres', url: db.url } });
      cleanup = db.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'warden-idp-upgrade-'));
      const sqlitePath = join(dir, 'warden.sqlite');
      options = buildDataSourceOptions({
        database: { kind: 'sqlite', url: `sqlite:${sqlitePath}`, sqlitePath },
      });
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
  });
  afterEach(async () => {
    await dataSource?.destroy();
    dataSource = undefined;
    await cleanup();
  });

  const maybe = itWhen(database);

  async function upgradeFrom(document: unknown): Promise<{ version: number; document: any }> {
    const before = await new DataSource({
      ...options,
      migrations: MIGRATIONS.filter((m) => m !== IdentityProviders1764700000000),
    }).initialize();
    await runMigrations(before);
    const p = (n: number) => (database === 'postgres' ? `$${n}` : '?');
    await before.query(
      `INSERT INTO settings (id, version, document, updated_at, updated_by)
       VALUES (${p(1)}, ${p(2)}, ${p(3)}, CURRENT_TIMESTAMP, ${p(4)})`,
      ['global', 4, JSON.stringify(document), 'admin'],
    );
    await before.destroy();
    dataSource = await new DataSource(options).initialize();
    await runMigrations(dataSource);
    const [row] = await dataSource
      .createQueryBuilder()
      .select(['version', 'document'])
      .from('settings', 's')
      .getRawMany();
    return { version: Number(row.version), document: JSON.parse(row.document) };
  }

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
