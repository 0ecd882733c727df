import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampType } from '../column-types';

/** Atlassian Connect tenants: the host products that installed Warden. */
export class ConnectTenants1764100000000 implements MigrationInterface {
  name = 'ConnectTenants1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const ts = timestampType(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'connect_tenants',
        columns: [
          { name: 'client_key', type: 'varchar', length: '255', isPrimary: true },
          { name: 'shared_secret', type: 'text' },
          { name: 'base_url', type: 'varchar', length: '2048' },
          { name: 'display_url', type: 'varchar', length: '2048', isNullable: true },
          { name: 'product_type', type: 'varchar', length: '64' },
          { name: 'oauth_client_id', type: 'varchar', length: '255', isNullable: true },
          { name: 'description', type: 'varchar', length: '1024', isNullable: true },
          { name: 'installed', type: 'boolean' },
          { name: 'enabled', type: 'boolean' },
          { name: 'installed_at', type: ts },
          { name: 'uninstalled_at', type: ts, isNullable: true },
          { name: 'updated_at', type: ts },
          { name: 'lifecycle_iat', type: 'bigint' },
          { name: 'lifecycle_digests', type: 'text' },
        ],
        // Instances poll for tenants changed since their last look.
        indices: [
          new TableIndex({ name: 'idx_connect_tenants_updated_at', columnNames: ['updated_at'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('connect_tenants');
  }
}
