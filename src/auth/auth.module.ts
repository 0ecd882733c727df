import { AuditModule } from '../audit/audit.module';
import { Module, OnModuleInit } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthenticatorService } from './authenticator.service';
import { DirectoryService } from './directory/directory.service';
import { GroupEntity } from './directory/group.entity';
import { PasswordHasher } from './directory/password-hasher';
import { UserCache } from './directory/user-cache';
import { UserTombstoneEntity } from './directory/user-tombstone.entity';
import { UserEntity } from './directory/user.entity';
import { UsersController } from './directory/users.controller';
import { GroupsRepository, UsersRepository } from './directory/users.repository';
import { JwksController } from './keys/jwks.controller';
import { KeyRingService } from './keys/key-ring.service';
import { SigningKeyEntity } from './keys/signing-key.entity';
import { SigningKeysRepository } from './keys/signing-keys.repository';
import { RefreshSessionEntity } from './sessions/refresh-session.entity';
import { RevocationService } from './sessions/revocation.service';
import { SessionsRepository } from './sessions/sessions.repository';
import { SessionsService } from './sessions/sessions.service';
import { AccessTokenStrategy } from './strategies/access-token.strategy';
import { BasicStrategy } from './strategies/basic.strategy';
import { RefreshTokenStrategy } from './strategies/refresh-token.strategy';
import { StrategyRunner } from './strategies/strategy-runner';
import { ExternalJwtStrategy } from './strategies/external-jwt.strategy';
import { ExternalJwtService } from './external/external-jwt.service';
import { ExternalJwtController } from './external/external-jwt.controller';
import { IdentityProvidersController } from './external/identity-providers.controller';
import { IdentityProvidersService } from './external/identity-providers.service';
import { ExternalIntrospectionStrategy } from './strategies/external-introspection.strategy';
import { UpstreamSessionStrategy } from './strategies/upstream-session.strategy';
import { UpstreamSessionCache } from './upstream-session.cache';
import { UpstreamSessionClient } from './upstream-session.client';
import { WardenTokens } from './warden-tokens.service';

@Module({
  imports: [
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
    JwksController,
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
    SessionsService,
    RevocationService,
    KeyRingService,
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
  ],
})
export class AuthModule implements OnModuleInit {
  constructor(
    private readonly strategies: StrategyRunner,
    private readonly access: AccessTokenStrategy,
    private readonly refresh: RefreshTokenStrategy,
    private readonly basic: BasicStrategy,
    private readonly session: UpstreamSessionStrategy,
    private readonly external: ExternalJwtStrategy,
    private readonly introspection: ExternalIntrospectionStrategy,
  ) {}

  onModuleInit(): void {
    this.strategies.register('access', this.access);
    this.strategies.register('refresh', this.refresh);
    this.strategies.register('basic', this.basic);
    this.strategies.register('session', this.session);
    this.strategies.register('external', this.external);
    this.strategies.register('external-introspection', this.introspection);
  }
}
