import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock';
import { MetricsService } from '../metrics/metrics.service';
import { AUDIT_LIMITS } from './audit-entry.entity';
import { AuditEvent, AuditSink } from './audit.port';
import { AuditRepository, AuditRow } from './audit.repository';

/** DESIGN section 9: a batch goes every 100 ms, or as soon as 500 rows are waiting. */
export const AUDIT_FLUSH_INTERVAL_MS = 100;
export const AUDIT_BATCH_ROWS = 500;
/**
 * While the database is away the buffer holds this many rows (~15 MB) and refuses, counting,
 * beyond it: memory stays bounded whatever the outage's length.
 */
export const AUDIT_MAX_BUFFERED = 50_000;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 10_000;
/** How long shutdown keeps trying before it writes what is left to the log instead. */
const SHUTDOWN_DEADLINE_MS = 10_000;
/** While rows are being refused, one log line per this period says how many. */
const DROP_LOG_EVERY_MS = 10_000;

/**
 * Recorded even with `audit.enabled` false: switching the audit off is itself on record, and the
 * retention job's runs stay visible.
 */
const ALWAYS_RECORDED = new Set(['settings.changed', 'audit.purged']);

export interface AuditWriterStats {
  buffered: number;
  flushed: number;
  dropped: number;
}

/**
 * The audit store's writer: `record()` only appends to an in-process buffer; batches reach the
 * database as one multi-row INSERT each, in order, one batch at a time. A failed batch stays at
 * the head of the buffer and is retried with backoff; if the database answers but refuses the
 * batch, its rows are written one by one and any row that still fails is written to the log
 * instead, and counted as dropped.
 */
@Injectable()
export class AuditWriter extends AuditSink implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('audit');
  private buffer: AuditRow[] = [];
  private draining: Promise<void> | null = null;
  private interval: NodeJS.Timeout | undefined;
  private retryAt = 0;
  private retryDelay = 0;
  private enabled = true;
  private flushed = 0;
  private dropped = 0;
  private droppedUnlogged = 0;
  private lastDropLog = 0;

  constructor(
    private readonly repository: AuditRepository,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
  ) {
    super();
  }

  onModuleInit(): void {
    this.metrics.auditBufferDepth(() => this.buffer.length);
    this.interval = setInterval(() => this.kick(), AUDIT_FLUSH_INTERVAL_MS);
    this.interval.unref();
  }

  /** Follows `settings.audit.enabled` (wired by AuditSettingsLink). */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }

  record(event: AuditEvent): void {
    if (!this.enabled && !ALWAYS_RECORDED.has(event.event)) return;
    if (this.buffer.length >= AUDIT_MAX_BUFFERED) {
      this.countDropped(1);
      return;
    }
    this.buffer.push(toRow(event, this.clock.now()));
    if (this.buffer.length === AUDIT_BATCH_ROWS) setImmediate(() => this.kick());
  }

  stats(): AuditWriterStats {
    return { buffered: this.buffer.length, flushed: this.flushed, dropped: this.dropped };
  }

  /** Writes everything buffered so far (tests and shutdown); rejects if the database is away. */
  async flush(): Promise<void> {
    await this.draining;
    if (this.buffer.length === 0) return;
    this.retryAt = 0;
    await this.drain(true);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.interval);
    const deadline = Date.now() + SHUTDOWN_DEADLINE_MS;
    for (;;) {
      try {
        await this.flush();
        break;
      } catch {
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, Math.min(this.retryDelay, 1000)));
      }
    }
    this.reportDrops();
    if (this.buffer.length > 0) {
      // The database is gone for good: the log is the last place these rows can go.
      for (const row of this.buffer) this.logger.error({ auditNotStored: row });
      this.countDropped(this.buffer.length, true);
      this.buffer = [];
    }
  }

  private kick(): void {
    if (this.draining || this.buffer.length === 0 || Date.now() < this.retryAt) return;
    void this.drain(false).catch(() => undefined);
  }

  private drain(rethrow: boolean): Promise<void> {
    const run = (async () => {
      try {
        while (this.buffer.length > 0) {
          const batch = this.buffer.slice(0, AUDIT_BATCH_ROWS);
          await this.write(batch);
          this.buffer.splice(0, batch.length);
          this.flushed += batch.length;
          this.metrics.auditRowsFlushed(batch.length);
        }
        if (this.retryDelay > 0) {
          this.logger.log('The audit store is writable again; the buffered rows are stored');
          this.retryDelay = 0;
        }
        this.reportDrops();
      } catch (err) {
        this.backOff(err);
        if (rethrow) throw err;
      } finally {
        this.draining = null;
      }
    })();
    this.draining = run;
    return run;
  }

  /** One batch; rows the database refuses one by one (not for want of a connection) go to the log. */
  private async write(batch: AuditRow[]): Promise<void> {
    try {
      await this.repository.insertMany(batch);
      return;
    } catch (err) {
      if (!(await this.repository.reachable())) throw err;
      if (batch.length === 1) {
        this.logger.error({ auditNotStored: batch[0], err: message(err) });
        this.countDropped(1, true);
        return;
      }
    }
    for (const row of batch) await this.write([row]);
  }

  private backOff(err: unknown): void {
    if (this.retryDelay === 0) {
      this.logger.warn(
        `The audit store cannot be written (${message(err)}); buffering up to ${AUDIT_MAX_BUFFERED} rows and retrying`,
      );
    }
    this.retryDelay = Math.min(Math.max(this.retryDelay * 2, RETRY_FIRST_MS), RETRY_MAX_MS);
    this.retryAt = Date.now() + this.retryDelay;
  }

  /** Every refused row is counted; the log says how many at once, then at most once per period. */
  private countDropped(count: number, logged = false): void {
    this.dropped += count;
    this.metrics.auditEventsDropped(count);
    if (logged) return;
    this.droppedUnlogged += count;
    if (Date.now() - this.lastDropLog >= DROP_LOG_EVERY_MS) this.reportDrops();
  }

  private reportDrops(): void {
    if (this.droppedUnlogged === 0) return;
    this.logger.error(
      `Audit buffer full (${AUDIT_MAX_BUFFERED} rows, database unavailable): dropped ${this.droppedUnlogged} events since the last report, ${this.dropped} in all`,
    );
    this.droppedUnlogged = 0;
    this.lastDropLog = Date.now();
  }
}

function toRow(event: AuditEvent, now: number): AuditRow {
  return {
    at: new Date(now),
    event: cut(event.event, AUDIT_LIMITS.event)!,
    outcome: cut(event.outcome, AUDIT_LIMITS.outcome)!,
    actor: cut(event.actor, AUDIT_LIMITS.actor),
    authMethod: cut(event.authMethod, AUDIT_LIMITS.authMethod),
    credentialId: cut(event.credentialId, AUDIT_LIMITS.credentialId),
    ip: cut(event.ip, AUDIT_LIMITS.ip),
    method: cut(event.method, AUDIT_LIMITS.method),
    path: cut(event.path, AUDIT_LIMITS.path),
    status: Number.isInteger(event.status) ? event.status! : null,
    reason: cut(event.reason, AUDIT_LIMITS.reason),
    userAgent: cut(event.userAgent, AUDIT_LIMITS.userAgent),
    requestId: cut(event.requestId, AUDIT_LIMITS.requestId),
    details: event.details ? detailsJson(event.details) : null,
  };
}

function cut(value: string | null | undefined, max: number): string | null {
  if (value === undefined || value === null) return null;
  return value.length > max ? value.slice(0, max) : value;
}

/** Cutting JSON would break it: an oversized details object is replaced by a note saying so. */
function detailsJson(details: Record<string, unknown>): string {
  let json: string;
  try {
    json = JSON.stringify(details);
  } catch {
    return '{"unserializable":true}';
  }
  return json.length <= AUDIT_LIMITS.details
    ? json
    : JSON.stringify({ truncated: true, length: json.length });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
