import { DataSource } from 'typeorm';

/** Any fixed number: every Warden instance takes the same PostgreSQL advisory lock. */
const MIGRATION_LOCK_ID = 0x77617264; // "ward"

/**
 * Runs pending migrations. On PostgreSQL instances starting together take turns under an
 * advisory lock, so that exactly one applies each migration.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await runner.release();
  }
}
