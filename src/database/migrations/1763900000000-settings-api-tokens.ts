import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampType } from '../column-types';

/** The settings document and personal API tokens. */
export class SettingsApiTokens1763900000000 implements MigrationInterface {
  name = 'SettingsApiTokens1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const ts = timestampType(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'settings',
        columns: [
          { name: 'id', type: 'varchar', length: '32', isPrimary: true },
          { name: 'version', type: 'integer' },
          { name: 'document', type: 'text' },
          { name: 'updated_at', type: ts },
          { name: 'updated_by', type: 'varchar', length: '255', isNullable: true },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'api_tokens',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'token_hash', type: 'varchar', length: '64', isUnique: true },
          { name: 'display_prefix', type: 'varchar', length: '16' },
          { name: 'scopes', type: 'varchar', length: '64' },
          { name: 'created_at', type: ts },
          { name: 'expires_at', type: ts },
          { name: 'last_used_at', type: ts, isNullable: true },
          { name: 'last_used_ip', type: 'varchar', length: '64', isNullable: true },
          { name: 'revoked_at', type: ts, isNullable: true },
        ],
        indices: [
          new TableIndex({ name: 'idx_api_tokens_user', columnNames: ['user_id'] }),
          new TableIndex({ name: 'idx_api_tokens_revoked_at', columnNames: ['revoked_at'] }),
          new TableIndex({ name: 'idx_api_tokens_expires_at', columnNames: ['expires_at'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_tokens');
    await queryRunner.dropTable('settings');
  }
}
