import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampType } from '../column-types';

/** CMJ migration SPI operations (the sealed operation token lives with its operation). */
export class SpiOperations1764200000000 implements MigrationInterface {
  name = 'SpiOperations1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const ts = timestampType(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'spi_operations',
        columns: [
          { name: 'id', type: 'varchar', length: '255', isPrimary: true },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'dry_run', type: 'boolean' },
          { name: 'operation_token', type: 'text', isNullable: true },
          { name: 'token_expires_at', type: ts, isNullable: true },
          { name: 'summary', type: 'text', isNullable: true },
          { name: 'created_at', type: ts },
          { name: 'updated_at', type: ts },
          { name: 'finished_at', type: ts, isNullable: true },
        ],
        indices: [
          new TableIndex({
            name: 'idx_spi_operations_token_expires_at',
            columnNames: ['token_expires_at'],
          }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('spi_operations');
  }
}
