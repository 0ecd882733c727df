import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampType } from '../column-types';

/**
 * The audit log. Every listing is ordered by (at, id) and filtered by at most a few columns, so
 * each filter column leads an index that ends in (at, id): a filtered page is one index range
 * scan, on a million rows as on ten. Allowed decisions are the bulk of the rows (one per
 * request) and every index costs each of them an insert, so the two columns whose interesting
 * values are the rare ones, event and outcome, are indexed for the other rows only (partial
 * indexes); a query for allowed decisions is the bulk, read in (at, id) order anyway.
 */
export class AuditLog1764000000000 implements MigrationInterface {
  name = 'AuditLog1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    const index = (name: string, columns: string[], where?: string) =>
      new TableIndex({ name: `idx_audit_${name}`, columnNames: [...columns, 'at', 'id'], where });
    const rare = `outcome <> 'allowed'`;
    await queryRunner.createTable(
      new Table({
        name: 'audit_log',
        columns: [
          {
            name: 'id',
            // SQLite: INTEGER PRIMARY KEY is the rowid itself, so the key costs no extra index.
            type: postgres ? 'bigint' : 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'at', type: timestampType(queryRunner) },
          { name: 'event', type: 'varchar', length: '64' },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'actor', type: 'varchar', length: '255', isNullable: true },
          { name: 'auth_method', type: 'varchar', length: '32', isNullable: true },
          { name: 'credential_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
          { name: 'method', type: 'varchar', length: '16', isNullable: true },
          { name: 'path', type: 'varchar', length: '2048', isNullable: true },
          { name: 'status', type: 'integer', isNullable: true },
          { name: 'reason', type: 'varchar', length: '128', isNullable: true },
          { name: 'user_agent', type: 'varchar', length: '512', isNullable: true },
          { name: 'request_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'details', type: 'text', isNullable: true },
        ],
        indices: [
          index('at', []),
          index('actor', ['actor']),
          index('event', ['event'], rare),
          index('outcome', ['outcome'], rare),
          index('ip', ['ip']),
          index('credential', ['credential_id']),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_log');
  }
}
