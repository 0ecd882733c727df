import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { JOB_LOCKS, JobLock } from '../common/database/job-lock';
import { TokensService } from './tokens.service';

/** Revoked tokens stay listed this long (so their owners see what happened), then go. */
export const REVOKED_TOKEN_RETENTION_DAYS = 30;

@Injectable()
export class TokenCleanupJob {
  private readonly logger = new Logger(TokenCleanupJob.name);

  constructor(
    private readonly tokens: TokensService,
    private readonly lock: JobLock,
  ) {}

  /** On one instance at a time; the others skip the hour. */
  @Cron(CronExpression.EVERY_HOUR, { name: 'api-token-cleanup' })
  async run(): Promise<void> {
    await this.lock.runAlone(JOB_LOCKS.apiTokenCleanup, async () => {
      const removed = await this.tokens.removeStale(REVOKED_TOKEN_RETENTION_DAYS);
      if (removed > 0) this.logger.log({ removed }, 'Removed expired and long-revoked API tokens');
    });
  }
}
