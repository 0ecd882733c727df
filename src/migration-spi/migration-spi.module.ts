import { JobLock } from '../common/database/job-lock';
import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CredentialKinds } from '../auth/kinds/credential-kinds';
import { ConnectModule } from '../connect/connect.module';
import { SettingsModule } from '../settings/settings.module';
import { CmjSpiJwtService } from './cmj-spi-jwt.service';
import { DownloadClient } from './download.client';
import { MigrationHandlers } from './handlers/migration-handlers.service';
import { WardenConfigurationHandler } from './handlers/warden-configuration.handler';
import { MigrationOperationsController, MigrationSpiController } from './migration-spi.controller';
import { MigrationService } from './migration.service';
import { OperationEntity } from './operations/operation.entity';
import { OperationStore } from './operations/operation-store.service';
import { OperationsApiClient } from './operations/operations-api.client';
import { CmjSpiKind, CmjSpiStrategy } from './strategies/cmj-spi.strategy';

/**
 * The CMJ Cloud migration SPI (docs/integrations/cmj.md): the `cmj-spi` credential kind, the SPI
 * routes, operations with their sealed tokens, the Operations API client, signed downloads, and the
 * handler port with Warden's own configuration as its first handler.
 */
@Module({
  imports: [
    SettingsModule,
    AuthModule,
    AuditModule,
    ConnectModule,
    TypeOrmModule.forFeature([OperationEntity]),
  ],
  controllers: [MigrationSpiController, MigrationOperationsController],
  providers: [
    JobLock,
    CmjSpiJwtService,
    CmjSpiStrategy,
    CmjSpiKind,
    OperationStore,
    OperationsApiClient,
    DownloadClient,
    MigrationHandlers,
    WardenConfigurationHandler,
    MigrationService,
  ],
  exports: [MigrationHandlers],
})
export class MigrationSpiModule implements OnModuleInit {
  constructor(
    kinds: CredentialKinds,
    kind: CmjSpiKind,
    private readonly handlers: MigrationHandlers,
    private readonly configuration: WardenConfigurationHandler,
  ) {
    // At construction, not at init: the OpenAPI document, built before init, lists its scheme.
    kinds.register(kind);
  }

  onModuleInit(): void {
    this.handlers.register(this.configuration);
  }
}
