import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { MetricsService } from '../../metrics/metrics.service';
import { SettingsService } from '../../settings/settings.service';
import { AuditSink } from '../audit.port';
import { AuditRepository } from '../audit.repository';

/**
 * Rows per DELETE and the pause between two: small enough that one statement holds the table
 * (and, on SQLite, the event loop) for a few milliseconds, so requests keep flowing while a
 * million rows go.
 */
export const PURGE_BATCH_ROWS = 2_000;
export const PURGE_PAUSE_MS = 25;
const DAY_MS = 86_400_000;
/**
 * How long a scheduled firing stays claimed after its tick. Every instance's cron fires, but not
 * at the same moment: timers fire late on a busy event loop and hosts' clocks differ. A run with
 * little to delete ends within milliseconds, so without the claim an instance whose tick comes
 * just after would find the run lock free and purge a second time for the same firing.
 */
export const FIRING_CLAIM_MS = 10_000;
/** The claim ends at least this long before the next firing, so it never swallows that one. */
const NEXT_FIRING_MARGIN_MS = 250;

export type PurgeTrigger = 'schedule' | 'manual';

export interface PurgeRun {
  trigger: PurgeTrigger;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  retentionDays: number;
  maxEntries: number;
  deletedByAge: number;
  deletedByCount: number;
  /** False when shutdown interrupted the run between two batches. */
  complete: boolean;
}

/**
 * The retention rule of docs/operations.md#the-audit-log: rows older than `retentionDays` go, then
 * the oldest rows beyond the newest `maxEntries`. One instance at a time
 * (AuditRepository.withPurgeLock), and one run per cron firing however many instances fire; each
 * run is recorded as an `audit.purged` event with its counts.
 */
@Injectable()
export class AuditRetentionService implements OnApplicationShutdown {
  private readonly logger = new Logger('audit-retention');
  private stopping = false;
  private current: Promise<unknown> | null = null;
  /** Scheduled firings this instance is claiming or holds (shutdown waits for their release). */
  private readonly claims = new Set<Promise<unknown>>();
  private endClaim: (() => void) | null = null;

  constructor(
    private readonly repository: AuditRepository,
    private readonly settings: SettingsService,
    private readonly audit: AuditSink,
    private readonly metrics: MetricsService,
    private readonly clock: Clock,
  ) {}

  get running(): boolean {
    return this.current !== null;
  }

  /** Runs the rule once; null when another run (here or on another instance) holds the lock. */
  async purge(trigger: PurgeTrigger): Promise<PurgeRun | null> {
    if (this.current || this.stopping) return null;
    const work = this.locked(trigger);
    this.current = work;
    try {
      return await work;
    } finally {
      this.current = null;
    }
  }

  /**
   * Called by the cron on every instance: the instance that claims the firing runs it, the others
   * skip it. A failed run is logged, never thrown into the scheduler.
   */
  async purgeOnSchedule(nextFiring: Date | null = null): Promise<void> {
    const tick = Date.now();
    const claimMs = Math.min(
      FIRING_CLAIM_MS,
      (nextFiring?.getTime() ?? Infinity) - tick - NEXT_FIRING_MARGIN_MS,
    );
    const claim = this.repository.withPurgeLock(async () => {
      const run = await this.purge('schedule');
      if (!run) this.logger.log('Audit retention skipped: a run is already in progress');
      await this.holdClaim(tick + claimMs);
    }, 'firing');
    this.claims.add(claim);
    try {
      if (!(await claim))
        this.logger.debug('Audit retention skipped: another instance took this firing');
    } catch (err) {
      this.logger.error(
        `Audit retention failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      this.claims.delete(claim);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.endClaim?.();
    await Promise.all([this.current, ...this.claims].map((p) => p?.catch(() => undefined)));
  }

  private async locked(trigger: PurgeTrigger): Promise<PurgeRun | null> {
    let run: PurgeRun | null = null;
    await this.repository.withPurgeLock(async () => {
      run = await this.run(trigger);
    });
    if (run) {
      const done: PurgeRun = run;
      this.metrics.auditPurged(done.deletedByAge, done.deletedByCount, Date.parse(done.finishedAt));
      this.audit.record({
        event: 'audit.purged',
        outcome: 'success',
        reason: trigger,
        details: { ...done },
      });
    }
    return run;
  }

  private async run(trigger: PurgeTrigger): Promise<PurgeRun> {
    const started = this.clock.now();
    const { retentionDays, maxEntries } = this.settings.get().audit;
    let complete = true;
    const cutoff = new Date(started - retentionDays * DAY_MS);
    const deletedByAge = await this.inBatches(() =>
      this.repository.removeOlderThan(cutoff, PURGE_BATCH_ROWS),
    );
    let deletedByCount = 0;
    if (deletedByAge.complete) {
      const boundary = await this.repository.boundaryBeyond(maxEntries);
      if (boundary) {
        const byCount = await this.inBatches(() =>
          this.repository.removeUpTo(boundary, PURGE_BATCH_ROWS),
        );
        deletedByCount = byCount.deleted;
        complete = byCount.complete;
      }
    } else {
      complete = false;
    }
    const finished = this.clock.now();
    return {
      trigger,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      retentionDays,
      maxEntries,
      deletedByAge: deletedByAge.deleted,
      deletedByCount,
      complete,
    };
  }

  /** Keeps the firing claimed until `until`, or until shutdown. */
  private async holdClaim(until: number): Promise<void> {
    const ms = until - Date.now();
    if (ms <= 0 || this.stopping) return;
    await new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        if (this.endClaim === end) this.endClaim = null;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.endClaim = end;
    });
  }

  private async inBatches(
    removeBatch: () => Promise<number>,
  ): Promise<{ deleted: number; complete: boolean }> {
    let deleted = 0;
    for (;;) {
      const removed = await removeBatch();
      deleted += removed;
      if (removed < PURGE_BATCH_ROWS) return { deleted, complete: true };
      if (this.stopping) return { deleted, complete: false };
      await new Promise((resolve) => setTimeout(resolve, PURGE_PAUSE_MS));
    }
  }
}
