import { AuditModule } from '../audit/audit.module';
import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { AuthenticatorService } from '../auth/authenticator.service';
import { DirectoryService } from '../auth/directory/directory.service';
import { StrategyRunner } from '../auth/strategies/strategy-runner';
import { ApiTokenEntity } from './api-token.entity';
import { ApiTokenStrategy } from './api-token.strategy';
import { ApiTokensRepository } from './api-tokens.repository';
import { TokenCleanupJob } from './token-cleanup.job';
import { JobLock } from '../database/job-lock';
import { AdminTokensController, TokensController } from './tokens.controller';
import { TokensService } from './tokens.service';

@Module({
  imports: [AuthModule, AuditModule, TypeOrmModule.forFeature([ApiTokenEntity])],
  controllers: [TokensController, AdminTokensController],
  providers: [ApiTokensRepository, TokensService, ApiTokenStrategy, TokenCleanupJob, JobLock],
})
export class TokensModule implements OnModuleInit {
  constructor(
    private readonly strategies: StrategyRunner,
    private readonly strategy: ApiTokenStrategy,
    private readonly authenticator: AuthenticatorService,
    private readonly directory: DirectoryService,
    private readonly tokens: TokensService,
  ) {}

  /** Plugs API tokens into authentication, and ends a removed user's tokens with their sessions. */
  onModuleInit(): void {
    this.strategies.register('api-token', this.strategy);
    this.authenticator.onApiTokenUse((id, ip) => this.tokens.recordUse(id, ip));
    this.directory.onUserRemoved((userId, actor) =>
      this.tokens.revokeAll(userId, actor, {}).then(() => undefined),
    );
  }
}
