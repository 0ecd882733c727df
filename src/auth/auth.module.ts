import { AuditModule } from '../audit/audit.module';
import { AdminSessionsController } from './sessions/admin-sessions.controller';
import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SettingsModule } from '../settings/settings.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthenticatorService } from './authenticator.service';
import { DirectoryService } from './directory/directory.service';
import { GroupAdminService } from './directory/group-admin.service';
import { GroupEntity } from './directory/group.entity';
import { PasswordHasher } from './directory/password-hasher';
import { UserCache } from './directory/user-cache';
import { UserTombstoneEntity } from './directory/user-tombstone.entity';
import { UserEntity } from './directory/user.entity';
import { UsersController } from './directory/users.controller';
import { GroupsRepository, UsersRepository } from './directory/users.repository';
import { JwksController } from './keys/jwks.controller';
import { KeyRingService } from './keys/key-ring.service';
import { KeyRotationJob } from './keys/key-rotation.job';
import { KeysController } from './keys/keys.controller';
import { JobLock } from '../common/database/job-lock';
import { SigningKeyEntity } from './keys/signing-key.entity';
import { SigningKeysRepository } from './keys/signing-keys.repository';
import { RefreshSessionEntity } from './sessions/refresh-session.entity';
import { RevocationService } from './sessions/revocation.service';
import { SessionsRepository } from './sessions/sessions.repository';
import { SessionsService } from './sessions/sessions.service';
import { AccessTokenKind, AccessTokenStrategy } from './strategies/access-token.strategy';
import { BasicKind, BasicStrategy } from './strategies/basic.strategy';
import { RefreshTokenKind, RefreshTokenStrategy } from './strategies/refresh-token.strategy';
import { StrategyRunner } from './strategies/strategy-runner';
import { ExternalJwtKind, ExternalJwtStrategy } from './strategies/external-jwt.strategy';
import { ExternalJwtService } from './external/external-jwt.service';
import { ExternalJwtController } from './external/external-jwt.controller';
import {
  UpstreamSessionKind,
  UpstreamSessionStrategy,
} from './strategies/upstream-session.strategy';
import { CredentialKinds } from './kinds/credential-kinds';
import { IdentityProvidersController } from './external/identity-providers.controller';
import { IdentityProvidersService } from './external/identity-providers.service';
import { ExternalIntrospectionStrategy } from './strategies/external-introspection.strategy';
import { UpstreamSessionCache } from './upstream-session.cache';
import { UpstreamSessionClient } from './upstream-session.client';
import { WardenTokens } from './warden-tokens.service';

@Module({
  imports: [
    SettingsModule,
    AuditModule,
    PassportModule,
    TypeOrmModule.forFeature([
      UserEntity,
      UserTombstoneEntity,
      GroupEntity,
      SigningKeyEntity,
      RefreshSessionEntity,
    ]),
  ],
  controllers: [
    AuthController,
    UsersController,
    AdminSessionsController,
    JwksController,
    KeysController,
    IdentityProvidersController,
    ExternalJwtController,
  ],
  providers: [
    UsersRepository,
    GroupsRepository,
    SigningKeysRepository,
    SessionsRepository,
    PasswordHasher,
    UserCache,
    DirectoryService,
    GroupAdminService,
    SessionsService,
    RevocationService,
    KeyRingService,
    KeyRotationJob,
    JobLock,
    WardenTokens,
    AuthService,
    UpstreamSessionClient,
    UpstreamSessionCache,
    AuthenticatorService,
    AccessTokenStrategy,
    RefreshTokenStrategy,
    BasicStrategy,
    UpstreamSessionStrategy,
    ExternalJwtStrategy,
    AccessTokenKind,
    RefreshTokenKind,
    BasicKind,
    UpstreamSessionKind,
    ExternalJwtKind,
    CredentialKinds,
    ExternalIntrospectionStrategy,
    ExternalJwtService,
    IdentityProvidersService,
    StrategyRunner,
  ],
  exports: [
    AuthenticatorService,
    DirectoryService,
    KeyRingService,
    SessionsService,
    UserCache,
    RevocationService,
    StrategyRunner,
    CredentialKinds,
  ],
})
export class AuthModule {
  constructor(
    private readonly kinds: CredentialKinds,
    private readonly access: AccessTokenKind,
    private readonly refresh: RefreshTokenKind,
    private readonly basic: BasicKind,
    private readonly session: UpstreamSessionKind,
    private readonly external: ExternalJwtKind,
  ) {
    // At construction, not at init: the OpenAPI document, built before init, lists their schemes.
    kinds.register(access, refresh, basic, session, external);
  }
}
