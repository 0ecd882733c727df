import { DataSourceOptions } from 'typeorm';
import { WardenConfig } from '../config/warden-config';
import { GroupEntity } from '../auth/directory/group.entity';
import { UserEntity } from '../auth/directory/user.entity';
import { UserTombstoneEntity } from '../auth/directory/user-tombstone.entity';
import { SigningKeyEntity } from '../auth/keys/signing-key.entity';
import { RefreshSessionEntity } from '../auth/sessions/refresh-session.entity';
import { DirectoryKeysSessions1763800000000 } from './migrations/1763800000000-directory-keys-sessions';
import { SettingsApiTokens1763900000000 } from './migrations/1763900000000-settings-api-tokens';
import { SettingsEntity } from '../settings/settings.entity';
import { ApiTokenEntity } from '../tokens/api-token.entity';
import { AuditEntryEntity } from '../audit/audit-entry.entity';
import { AuditLog1764000000000 } from './migrations/1764000000000-audit-log';
import { ConnectTenants1764100000000 } from './migrations/1764100000000-connect-tenants';
import { TenantEntity } from '../connect/tenants/tenant.entity';
import { SpiOperations1764200000000 } from './migrations/1764200000000-spi-operations';
import { OperationEntity } from '../migration-spi/operations/operation.entity';
import { AuditAtMilliseconds1764300000000 } from './migrations/1764300000000-audit-at-milliseconds';
import { UserTombstones1764400000000 } from './migrations/1764400000000-user-tombstones';
import { RefreshRotationOptIn1764500000000 } from './migrations/1764500000000-refresh-rotation-opt-in';
import { IdentityProviders1764700000000 } from './migrations/1764700000000-identity-providers';
import { prepareSqliteFiles, tightenOpenedSqliteFile } from './sqlite-files';
import { SigningKeyActivation1764600000000 } from './migrations/1764600000000-signing-key-activation';

export const ENTITIES = [
  UserEntity,
  UserTombstoneEntity,
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
  AuditAtMilliseconds1764300000000,
  UserTombstones1764400000000,
  RefreshRotationOptIn1764500000000,
  SigningKeyActivation1764600000000,
  IdentityProviders1764700000000,
];

/**
 * The longest one statement may take, waiting for locks included, before the database gives up on
 * it: a request held up by a lock or a stuck query ends as a 503 (database_unavailable) within
 * this, instead of hanging until the client gives up. Also how long SQLite waits for a writer's
 * lock before it answers SQLITE_BUSY (another 503). Migrations run without it (see migrate.ts).
 */
export const DATABASE_STATEMENT_TIMEOUT_MS = 5000;

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
      // statement_timeout is set by the server on each connection, so the server itself cancels
      // the statement (and releases its locks). pg's client-side query_timeout is not used: it
      // would leave the statement running on the server, and cut short the migration lock wait.
      extra: {
        max: 10,
        connectionTimeoutMillis: 5000,
        statement_timeout: DATABASE_STATEMENT_TIMEOUT_MS,
      },
    };
  }
  const path = config.database.sqlitePath!;
  // The folder 0700 and the files 0600: they hold password and token hashes and sealed secrets.
  prepareSqliteFiles(path);
  return {
    ...common,
    type: 'better-sqlite3',
    database: path,
    enableWAL: true,
    // In WAL mode NORMAL is safe from corruption and skips the fsync on every commit (a commit may
    // be lost to a power cut, never to a crash of Warden itself); FULL made each audit batch wait
    // on the disk while requests waited on the event loop. PostgreSQL is the durable shape.
    // Temporary storage in memory: a statement that writes several rows and may abort half-way
    // keeps a statement journal, a temporary file otherwise (for the audit's batches, before they
    // became OR FAIL, a sixth of a row's cost, measured). Warden's queries sort through indexes,
    // not in temp.
    // 16 KiB pages for a new database (an existing one keeps its own): an audit batch then goes
    // to the WAL and back in a quarter of the writes (a tenth of a row's cost, measured).
    // Runs before TypeORM switches the file to WAL, which fixes the page size.
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      // Before the first write and before WAL mode: the -wal and -shm files take this file's mode.
      tightenOpenedSqliteFile(path);
      db.pragma('page_size = 16384');
      db.pragma('synchronous = NORMAL');
      db.pragma('temp_store = MEMORY');
    },
    // Concurrent writers wait for the lock instead of failing at once, but not for ever.
    timeout: DATABASE_STATEMENT_TIMEOUT_MS,
  };
}
