import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../src/database/data-source';
import { runMigrations } from '../../src/database/migrate';
import { createTestDatabase } from './postgres';

export interface TestDatabase {
  dataSource: DataSource;
  close: () => Promise<void>;
}

/** A migrated database of the given kind, with no application around it. */
export async function openTestDatabase(kind: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  if (kind === 'postgres') {
    const db = await createTestDatabase();
    const dataSource = await new DataSource(
      buildDataSourceOptions({ database: { kind, url: db.url } }),
    ).initialize();
    await runMigrations(dataSource);
    return {
      dataSource,
      close: async () => {
        await dataSource.destroy();
        await db.drop();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'warden-db-'));
  const sqlitePath = join(dir, 'warden.sqlite');
  const dataSource = await new DataSource(
    buildDataSourceOptions({ database: { kind, url: `sqlite:${sqlitePath}`, sqlitePath } }),
  ).initialize();
  await runMigrations(dataSource);
  return {
    dataSource,
    close: async () => {
      await dataSource.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
