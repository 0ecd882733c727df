import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source';
import { runMigrations } from '../../src/database/migrate';
import { databaseReady } from './app';
import { createTestDatabase } from './postgres';

/**
 * A database of its own per test, as the release before `migration` left it, for suites about
 * what an upgrade does to the stored settings document. `upgradeFrom(document)` stores the
 * document (at `storedVersion`), runs every migration and answers the row as it is then.
 */
export function settingsUpgradeDatabase(
  database: 'sqlite' | 'postgres',
  migration: (typeof MIGRATIONS)[number],
  storedVersion: number,
): { upgradeFrom(document: unknown): Promise<{ version: number; document: any }> } {
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

  return {
    async upgradeFrom(document) {
      const before = await new DataSource({
        ...options,
        migrations: MIGRATIONS.filter((m) => m !== migration),
      }).initialize();
      await runMigrations(before);
      const p = (n: number) => (database === 'postgres' ? `$${n}` : '?');
      await before.query(
        `INSERT INTO settings (id, version, document, updated_at, updated_by)
         VALUES (${p(1)}, ${p(2)}, ${p(3)}, CURRENT_TIMESTAMP, ${p(4)})`,
        ['global', storedVersion, JSON.stringify(document), 'admin'],
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
    },
  };
}
