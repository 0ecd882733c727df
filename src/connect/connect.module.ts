import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CredentialKinds } from '../auth/kinds/credential-kinds';
import { ConnectJwtService } from './connect-jwt.service';
import { ConnectLifecycleService } from './connect-lifecycle.service';
import { ConnectController } from './connect.controller';
import { ConnectHostClient } from './host-client.service';
import { ConnectInstallKind, ConnectInstallStrategy } from './strategies/connect-install.strategy';
import { ConnectJwtKind, ConnectJwtStrategy } from './strategies/connect-jwt.strategy';
import { TenantDirectory } from './tenants/tenant-directory.service';
import { TenantEntity } from './tenants/tenant.entity';
import { TenantsController } from './tenants/tenants.controller';
import { TenantsRepository } from './tenants/tenants.repository';

/**
 * Warden as an Atlassian Connect app (docs/integrations/connect.md): descriptor, signed lifecycle,
 * tenants, the `connect` and `connect-install` credential kinds, and calls back to a tenant.
 */
@Module({
  imports: [AuthModule, AuditModule, TypeOrmModule.forFeature([TenantEntity])],
  controllers: [ConnectController, TenantsController],
  providers: [
    TenantsRepository,
    TenantDirectory,
    ConnectJwtService,
    ConnectLifecycleService,
    ConnectHostClient,
    ConnectJwtStrategy,
    ConnectInstallStrategy,
    ConnectJwtKind,
    ConnectInstallKind,
  ],
  exports: [ConnectHostClient, TenantDirectory, TenantsRepository],
})
export class ConnectModule {
  constructor(
    private readonly kinds: CredentialKinds,
    private readonly request: ConnectJwtKind,
    private readonly install: ConnectInstallKind,
  ) {
    // At construction, not at init: the OpenAPI document, built before init, lists their schemes.
    kinds.register(request, install);
  }
}
