import { DataSource, MigrationExecutor, QueryRunner } from 'typeorm';

/** Any fixed number: every Warden instance takes the same PostgreSQL advisory lock. */
const MIGRATION_LOCK_ID = 0x77617264; // "ward"

/**
 * Runs pending migrations. On PostgreSQL instances starting together take turns under an
 * advisory lock, so that exactly one applies each migration. They run on one connection with the
 * statement timeout lifted: a migration may rightly take longer than any request's statement (an
 * index on a large table), and waiting for the lock lasts as long as another instance's migrations.
 */
export async function runMigrations(dataSource: DataSource): Promise<void> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SET statement_timeout = 0');
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'each';
    await executor.executePendingMigrations();
  } finally {
    let broken: unknown;
    await runner
      .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID])
      .catch((err: unknown) => (broken = err));
    // Back to the connection's own timeout before it returns to the pool.
    await runner.query('RESET statement_timeout').catch((err: unknown) => (broken ??= err));
    // A connection that may still hold the lock, or run without a timeout, is closed instead.
    if (broken === undefined) await runner.release();
    else
      await (
        runner as QueryRunner & { releasePostgresConnection(err?: Error): Promise<void> }
      ).releasePostgresConnection(broken instanceof Error ? broken : new Error(String(broken)));
  }
}
