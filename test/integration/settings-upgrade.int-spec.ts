import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source';
import { runMigrations } from '../../src/database/migrate';
import { RefreshRotationOptIn1764500000000 } from '../../src/database/migrations/1764500000000-refresh-rotation-opt-in';
import { DEFAULT_SETTINGS } from '../../src/restrictions/settings.defaults';
import { DATABASES, databaseReady, itWhen } from '../support/app';
import { createTestDatabase } from '../support/postgres';

/**
 * A settings document stored before refresh-token rotation became opt-in holds
 * `rotateRefreshTokens: true` (the document is written whole at first start): the upgrade
 * switches it off and moves the version on, and leaves everything else as it was.
 */
describe.each(DATABASES)('settings upgrade: refresh-token rotation opt-in (%s)', (database) => {
  let ready = false;
  let options: DataSourceOptions;
  let cleanup: () => Promise<void> = async () => undefined;
  let dataSource: DataSource | undefined;

  beforeEach(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    if (database === 'postgres') {
      const db = await createTestDatabase();
      options = buildDataSourceOptions({ database: { kind: 'postgres', url: db.url } });
      cleanup = db.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'warden-upgrade-'));
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

  /** A database as the previous release left it, holding this stored document. */
  async function upgradeFrom(document: unknown): Promise<{ version: number; document: any }> {
    const before = await new DataSource({
      ...options,
      migrations: MIGRATIONS.filter((m) => m !== RefreshRotationOptIn1764500000000),
    }).initialize();
    await runMigrations(before);
    const p = (n: number) => (database === 'postgres' ? `$${n}` : '?');
    await before.query(
      `INSERT INTO settings (id, version, document, updated_at, updated_by)
       VALUES (${p(1)}, ${p(2)}, ${p(3)}, CURRENT_TIMESTAMP, ${p(4)})`,
      ['global', 7, JSON.stringify(document), 'admin'],
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

  maybe('a stored document that rotates is switched to the new default', async () => {
    const stored = structuredClone(DEFAULT_SETTINGS) as any;
    stored.tokens.rotateRefreshTokens = true;
    stored.tokens.reuseGraceSeconds = 45;
    stored.rateLimit.requests = 1234;
    const after = await upgradeFrom(stored);
    expect(after.version).toBe(8);
    expect(after.document.tokens).toEqual({ ...stored.tokens, rotateRefreshTokens: false });
    expect(after.document.rateLimit.requests).toBe(1234);
    expect({ ...after.document, tokens: null }).toEqual({ ...stored, tokens: null });
  });

  maybe('a stored document without rotation is left alone, version included', async () => {
    const stored = structuredClone(DEFAULT_SETTINGS) as any;
    stored.tokens.rotateRefreshTokens = false;
    const after = await upgradeFrom(stored);
    expect(after).toEqual({ version: 7, document: stored });
  });
});
