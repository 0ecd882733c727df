import { QueryRunner } from 'typeorm';

/**
 * Entities declare instants as `Date`; migrations pick the storage type per driver so that
 * PostgreSQL keeps real instants (`timestamptz`) and SQLite keeps sortable UTC text (but for the
 * audit log's `at`, milliseconds since the epoch: see AuditAtMilliseconds1764300000000).
 */
export function timestampType(queryRunner: QueryRunner): string {
  return queryRunner.connection.options.type === 'postgres' ? 'timestamptz' : 'datetime';
}
