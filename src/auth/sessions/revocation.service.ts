import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InvalidationBus } from '../../common/invalidation/invalidation-bus';
import { RefreshedView } from '../../common/invalidation/refreshed-view';
import { MAX_ACCESS_TTL_SECONDS } from '../../settings/settings.defaults';
import { SessionsRepository } from './sessions.repository';

/** How often revocations made by another instance are picked up when no bus message came. */
export const REVOCATION_POLL_MS = 1000;
/** Each poll re-reads this much before the newest revocation seen: commits land out of timestamp order. */
const POLL_OVERLAP_MS = 5000;
/** Remembered verified credentials other than access tokens are re-checked in storage at least this often. */
export const CREDENTIAL_RECHECK_MS = 10 * 60_000;
/**
 * How long a revocation is remembered: as long as any access token can live, whatever the
 * lifetime set now (a token issued before the lifetime was shortened keeps its own), with a
 * margin for clocks.
 */
export const REVOCATION_HORIZON_MS = MAX_ACCESS_TTL_SECONDS * 1000 + 120_000;
/** Revocations past the horizon are let go of at most this often. */
const TRIM_EVERY_MS = 60_000;

export type RevocationSource = (since: Date) => Promise<{ id: string; revokedAt: Date | null }[]>;

/**
 * Revoked credentials (refresh sessions, API tokens) that remembered tokens may still point at.
 * Checked on every request that a cache answers (a Map look-up); filled at once by this
 * instance, through the invalidation bus by the others, and by polling every source as the
 * fallback. Entries leave once no remembered token can still refer to them.
 */
@Injectable()
export class RevocationService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RevocationService.name);
  private readonly revoked = new Map<string, number>();
  private readonly sources: RevocationSource[] = [];
  private since = new Date(0);
  private readonly view: RefreshedView;
  private trimmedAt = 0;

  constructor(
    sessions: SessionsRepository,
    private readonly bus: InvalidationBus,
  ) {
    this.sources.push((since) => sessions.revokedSince(since));
    this.view = new RefreshedView({
      bus,
      channel: 'credential-revoked',
      pollMs: REVOCATION_POLL_MS,
      refresh: () => this.poll(),
      // The message names the revoked credentials: nothing to read.
      onMessage: (message) => this.remember(message.split(','), Date.now()),
      onError: (err) => this.logger.warn({ err }, 'Revocation poll failed; retrying'),
    });
  }

  /** Another module's revocations (API tokens) join the same check. */
  addSource(source: RevocationSource): void {
    this.sources.push(source);
  }

  async onModuleInit(): Promise<void> {
    // After a restart, revocations within the longest token lifetime still matter.
    this.since = new Date(Date.now() - REVOCATION_HORIZON_MS);
    this.view.start();
    await this.view.refresh();
  }

  onModuleDestroy(): void {
    this.view.stop();
  }

  isRevoked(credentialId: string): boolean {
    return this.revoked.has(credentialId);
  }

  /** Records revocations made here and tells the other instances. */
  markRevoked(credentialIds: string[], at = Date.now()): void {
    if (credentialIds.length === 0) return;
    this.remember(credentialIds, at);
    this.bus.publish('credential-revoked', credentialIds.join(','));
  }

  private remember(ids: string[], at: number): void {
    for (const id of ids) if (id) this.revoked.set(id, at);
  }

  private async poll(): Promise<void> {
    const since = new Date(this.since.getTime() - POLL_OVERLAP_MS);
    for (const source of this.sources) {
      for (const row of await source(since)) {
        this.revoked.set(row.id, row.revokedAt!.getTime());
        if (row.revokedAt! > this.since) this.since = row.revokedAt!;
      }
    }
    const now = Date.now();
    if (now - this.trimmedAt >= TRIM_EVERY_MS) {
      this.trimmedAt = now;
      const horizon = now - REVOCATION_HORIZON_MS;
      for (const [id, at] of this.revoked) if (at < horizon) this.revoked.delete(id);
    }
  }
}
