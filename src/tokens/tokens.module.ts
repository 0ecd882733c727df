import { AuditModule } from '../audit/audit.module';
import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { RestrictionsModule } from '../restrictions/restrictions.module';
import { SettingsModule } from '../settings/settings.module';
import { DirectoryService } from '../auth/directory/directory.service';
import { CredentialKinds } from '../auth/kinds/credential-kinds';
import { ApiTokenEntity } from './api-token.entity';
import { ApiTokenKind, ApiTokenStrategy } from './api-token.strategy';
import { ApiTokensRepository } from './api-tokens.repository';
import { TokenCleanupJob } from './token-cleanup.job';
import { JobLock } from '../common/database/job-lock';
import { AdminTokensController, TokensController } from './tokens.controller';
import { TokensService } from './tokens.service';

@Module({
  imports: [
    SettingsModule,
    AuthModule,
    AuditModule,
    // The client's address on token records, as the access guard resolves it.
    RestrictionsModule,
    TypeOrmModule.forFeature([ApiTokenEntity]),
  ],
  controllers: [TokensController, AdminTokensController],
  providers: [
    ApiTokensRepository,
    TokensService,
    ApiTokenStrategy,
    ApiTokenKind,
    TokenCleanupJob,
    JobLock,
  ],
})
export class TokensModule implements OnModuleInit {
  constructor(
    kinds: CredentialKinds,
    kind: ApiTokenKind,
    private readonly directory: DirectoryService,
    private readonly tokens: TokensService,
  ) {
    // At construction, not at init: the OpenAPI document, built before init, lists its scheme.
    kinds.register(kind);
  }

  /** Ends a removed user's tokens with their sessions. */
  onModuleInit(): void {
    this.directory.onUserRemoved((userId, actor) =>
      this.tokens.revokeAll(userId, actor, {}).then(() => undefined),
    );
  }
}
