import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SettingsService } from '../../restrictions/settings.service';
import { SessionsRepository } from './sessions.repository';

/** How often revocations made by another instance are picked up: the "within seconds" bound. */
export const REVOCATION_POLL_MS = 1000;
/** Each poll re-reads this much before the newest revocation seen: commits land out of timestamp order. */
const POLL_OVERLAP_MS = 5000;

/**
 * Revoked refresh sessions whose access tokens may still be alive. Checked on every request
 * with an access token (a Set look-up); filled at once by this instance and by polling for the
 * others; entries leave once no access token of theirs can still be valid.
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RevocationService.name);
  private readonly revoked = new Map<string, number>();
  private since = new Date(0);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly settings: SettingsService,
  ) {}

  async onModuleInit(): Promise<void> {
    // After a restart, sessions revoked within one access-token lifetime still matter.
    this.since = new Date(Date.now() - this.horizonMs());
    await this.poll();
    this.timer = setInterval(() => void this.poll(), REVOCATION_POLL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  isRevoked(sessionId: string): boolean {
    return this.revoked.has(sessionId);
  }

  markRevoked(sessionIds: string[], at = Date.now()): void {
    for (const id of sessionIds) this.revoked.set(id, at);
  }

  private horizonMs(): number {
    return (this.settings.get().tokens.accessTtlSeconds + 120) * 1000;
  }

  private async poll(): Promise<void> {
    try {
      const rows = await this.sessions.revokedSince(
        new Date(this.since.getTime() - POLL_OVERLAP_MS),
      );
      for (const row of rows) {
        const at = row.revokedAt!.getTime();
        this.revoked.set(row.id, at);
        if (row.revokedAt! > this.since) this.since = row.revokedAt!;
      }
      const horizon = Date.now() - this.horizonMs();
      for (const [id, at] of this.revoked) if (at < horizon) this.revoked.delete(id);
    } catch (err) {
      this.logger.warn({ err }, 'Revocation poll failed; retrying');
    }
  }
}
