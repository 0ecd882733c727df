import { DataSourceOptions } from 'typeorm';
import { WardenConfig } from '../config/warden-config';
import { GroupEntity } from '../auth/directory/group.entity';
import { UserEntity } from '../auth/directory/user.entity';
import { SigningKeyEntity } from '../auth/keys/signing-key.entity';
import { RefreshSessionEntity } from '../auth/sessions/refresh-session.entity';
import { DirectoryKeysSessions1763800000000 } from './migrations/1763800000000-directory-keys-sessions';
import { SettingsApiTokens1763900000000 } from './migrations/1763900000000-settings-api-tokens';
import { SettingsEntity } from '../restrictions/settings.entity';
import { ApiTokenEntity } from '../tokens/api-token.entity';
import { AuditEntryEntity } from '../audit/audit-entry.entity';
import { AuditLog1764000000000 } from './migrations/1764000000000-audit-log';
import { ConnectTenants1764100000000 } from './migrations/1764100000000-connect-tenants';
import { TenantEntity } from '../connect/tenants/tenant.entity';
import { SpiOperations1764200000000 } from './migrations/1764200000000-spi-operations';
import { OperationEntity } from '../migration-spi/operations/operation.entity';

export const ENTITIES = [
  UserEntity,
  GroupEntity,
  SigningKeyEntity,
  RefreshSessionEntity,
  SettingsEntity,
  ApiTokenEntity,
  AuditEntryEntity,
  TenantEntity,
  OperationEntity,
];
export const MIGRATIONS = [
  DirectoryKeysSessions1763800000000,
  SettingsApiTokens1763900000000,
  AuditLog1764000000000,
  ConnectTenants1764100000000,
  SpiOperations1764200000000,
];

/**
 * The one set of TypeORM options shared by the application and the migration CLI
 * (`ormconfig.ts`). Schema changes only ever come from MIGRATIONS.
 */
export function buildDataSourceOptions(config: Pick<WardenConfig, 'database'>): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    // Off: TypeORM's query logs print parameters, which hold password hashes and token hashes.
    // Failed queries surface as exceptions and reach the log through the problem filter.
    logging: false,
  };
  if (config.database.kind === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: config.database.url,
      extra: { max: 10, connectionTimeoutMillis: 5000 },
    };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.database.sqlitePath!,
    enableWAL: true,
    // Concurrent writers wait for the lock instead of failing at once.
    timeout: 5000,
  };
}
