import { MigrationInterface, QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';
import { timestampType } from '../column-types';

/** Users, groups, signing keys and refresh sessions: the foundation's tables. */
export class DirectoryKeysSessions1763800000000 implements MigrationInterface {
  name = 'DirectoryKeysSessions1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const ts = timestampType(queryRunner);
    const id = { type: 'varchar', length: '36', isPrimary: true };

    await queryRunner.createTable(
      new Table({
        name: 'users',
        columns: [
          { name: 'id', ...id },
          { name: 'username', type: 'varchar', length: '255' },
          { name: 'username_key', type: 'varchar', length: '255', isUnique: true },
          { name: 'display_name', type: 'varchar', length: '255', isNullable: true },
          { name: 'email', type: 'varchar', length: '320', isNullable: true },
          { name: 'password_hash', type: 'varchar', length: '255', isNullable: true },
          { name: 'disabled', type: 'boolean', default: false },
          { name: 'created_at', type: ts },
          { name: 'updated_at', type: ts },
        ],
      }),
    );
    await queryRunner.createIndex(
      'users',
      new TableIndex({ name: 'idx_users_updated_at', columnNames: ['updated_at'] }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'groups',
        columns: [
          { name: 'id', ...id },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'name_key', type: 'varchar', length: '255', isUnique: true },
          { name: 'created_at', type: ts },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'user_groups',
        columns: [
          { name: 'user_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'group_id', type: 'varchar', length: '36', isPrimary: true },
        ],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
          new TableForeignKey({
            columnNames: ['group_id'],
            referencedTableName: 'groups',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
        indices: [new TableIndex({ name: 'idx_user_groups_group', columnNames: ['group_id'] })],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'signing_keys',
        columns: [
          { name: 'kid', type: 'varchar', length: '64', isPrimary: true },
          { name: 'algorithm', type: 'varchar', length: '16' },
          { name: 'public_jwk', type: 'text' },
          { name: 'private_key_sealed', type: 'text' },
          { name: 'created_at', type: ts },
          { name: 'retired_at', type: ts, isNullable: true },
          { name: 'publish_until', type: ts, isNullable: true },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'refresh_sessions',
        columns: [
          { name: 'id', ...id },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'auth_method', type: 'varchar', length: '32' },
          { name: 'generation', type: 'integer' },
          { name: 'current_jti_hash', type: 'varchar', length: '64' },
          { name: 'previous_jti_hash', type: 'varchar', length: '64', isNullable: true },
          { name: 'rotated_at', type: ts, isNullable: true },
          { name: 'successor_sealed', type: 'text', isNullable: true },
          { name: 'created_at', type: ts },
          { name: 'last_used_at', type: ts },
          { name: 'expires_at', type: ts },
          { name: 'ip', type: 'varchar', length: '64', isNullable: true },
          { name: 'user_agent', type: 'varchar', length: '512', isNullable: true },
          { name: 'revoked_at', type: ts, isNullable: true },
          { name: 'revoked_reason', type: 'varchar', length: '64', isNullable: true },
        ],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['user_id'],
            referencedTableName: 'users',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
        indices: [
          new TableIndex({ name: 'idx_refresh_sessions_user', columnNames: ['user_id'] }),
          new TableIndex({ name: 'idx_refresh_sessions_revoked_at', columnNames: ['revoked_at'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('refresh_sessions');
    await queryRunner.dropTable('signing_keys');
    await queryRunner.dropTable('user_groups');
    await queryRunner.dropTable('groups');
    await queryRunner.dropTable('users');
  }
}
