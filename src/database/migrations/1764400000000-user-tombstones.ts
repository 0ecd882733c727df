import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampType } from '../column-types';

/**
 * Deleted users, for a day: the row that tells the other instances' directory polls that a
 * user is gone (the user's own row, and its sessions with it, are deleted at once).
 */
export class UserTombstones1764400000000 implements MigrationInterface {
  name = 'UserTombstones1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'user_tombstones',
        columns: [
          { name: 'user_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'deleted_at', type: timestampType(queryRunner) },
        ],
        indices: [
          new TableIndex({ name: 'idx_user_tombstones_deleted_at', columnNames: ['deleted_at'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('user_tombstones');
  }
}
