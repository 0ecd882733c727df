import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock';
import { isDatabaseUnavailable } from '../common/database/db-errors';
import { MetricsService } from '../metrics/metrics.service';
import { AUDIT_LIMITS } from './audit-entry.entity';
import { AuditEvent, AuditSink } from './audit.port';
import { AuditRepository, AuditRowInput } from './audit.repository';

/**
 * docs/architecture.md#why-the-audit-log-is-written-in-batches: a batch goes every 100 ms, or as
 * soon as 500 rows are waiting. The 100 ms are counted from the first row a batch holds: no row
 * waits longer, and a batch that went full is not followed by a few-row batch on a fixed tick (a
 * commit costs much the same for 50 rows as for 500: such stragglers cost half again per row,
 * measured).
 */
export const AUDIT_FLUSH_INTERVAL_MS = 100;
export const AUDIT_BATCH_ROWS = 500;
/**
 * While the database is away the buffer holds this many rows (about 30 MB at most, see AUDIT_MAX_BUFFERED_CHARS) and refuses, counting,
 * beyond it: memory stays bounded whatever the outage's length.
 */
export const AUDIT_MAX_BUFFERED = 50_000;
/**
 * …and this many characters of row text (paths, user agents, details): rows of long, hostile
 * paths reach it long before the row count, so the memory bound holds whatever the rows hold.
 */
export const AUDIT_MAX_BUFFERED_CHARS = 16_000_000;
/** A row's fixed cost in the character budget (object, short fields, date). */
const ROW_BASE_CHARS = 200;
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

/** A buffered row: its instant in milliseconds since the epoch (see AuditRowInput). */
type BufferedRow = AuditRowInput & { at: number };

export interface AuditWriterStats {
  buffered: number;
  flushed: number;
  dropped: number;
}

/**
 * The audit store's writer: `record()` only appends to an in-process buffer; batches reach the
 * database as one multi-row INSERT each, in order, one batch at a time. A failed batch stays at
 * the head of the buffer and is retried with backoff; if the database answers but refuses the
 * batch, it is halved until the refused row is alone, and that row goes to the log instead,
 * counted as dropped.
 */
@Injectable()
export class AuditWriter extends AuditSink implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('audit');
  private buffer: BufferedRow[] = [];
  private bufferedChars = 0;
  private draining: Promise<void> | null = null;
  /** When the waiting rows are due: 100 ms after the first of them, or when a retry is. */
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
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
  }

  /** Follows `settings.audit.enabled` (wired by AuditSettingsLink). */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }

  record(event: AuditEvent): void {
    if (!this.enabled && !ALWAYS_RECORDED.has(event.event)) return;
    if (
      this.buffer.length >= AUDIT_MAX_BUFFERED ||
      this.bufferedChars >= AUDIT_MAX_BUFFERED_CHARS
    ) {
      this.countDropped(1);
      return;
    }
    const row = toRow(event, this.clock.now());
    this.bufferedChars += rowChars(row);
    this.buffer.push(row);
    if (this.buffer.length === AUDIT_BATCH_ROWS) setImmediate(() => this.kick(false));
    else if (this.buffer.length === 1) this.wake(AUDIT_FLUSH_INTERVAL_MS);
  }

  stats(): AuditWriterStats {
    return { buffered: this.buffer.length, flushed: this.flushed, dropped: this.dropped };
  }

  /** Writes everything buffered so far (tests and shutdown); rejects if the database is away. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    if (this.buffer.length === 0) return;
    this.retryAt = 0;
    await this.drain(true, true);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.sleep();
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
      for (const row of this.buffer) this.logger.error({ auditNotStored: loggable(row) });
      this.countDropped(this.buffer.length, true);
      this.buffer = [];
      this.bufferedChars = 0;
    }
  }

  /** Starts writing: every waiting row, or (`all` false, a batch went full) full batches only. */
  private kick(all = true): void {
    if (this.draining || this.buffer.length === 0) return;
    const wait = this.retryAt - Date.now();
    if (wait > 0) return this.wake(wait);
    this.sleep();
    void this.drain(all, false).catch(() => undefined);
  }

  /** Calls kick() in `ms`, unless a call is due already (the earlier stands). */
  private wake(ms: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
    this.timer.unref();
  }

  private sleep(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Writes full batches, then what is left: at once when `all`, else when its first row is due
   * (the rows that came in while a full batch waited its turn are a batch of their own).
   */
  private drain(all: boolean, rethrow: boolean): Promise<void> {
    const run = (async () => {
      try {
        while (this.buffer.length >= AUDIT_BATCH_ROWS || (all && this.buffer.length > 0))
          await this.writeHead(Math.min(AUDIT_BATCH_ROWS, this.buffer.length));
        if (this.buffer.length > 0) {
          const waited = this.clock.now() - this.buffer[0].at;
          this.wake(Math.max(0, AUDIT_FLUSH_INTERVAL_MS - waited));
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

  /**
   * Writes the first `count` buffered rows as one INSERT and takes them off the buffer. If the
   * database answers but refuses the batch, it is halved until the refused row is found alone:
   * that row goes to the log instead, counted as dropped, and the rest are stored. Rows leave the
   * buffer as soon as they are stored, so a retry after an outage never writes one twice.
   */
  private async writeHead(count: number): Promise<void> {
    const batch = this.buffer.slice(0, count);
    try {
      await this.repository.insertMany(batch);
    } catch (err) {
      // Away, busy, or over the statement timeout: not the rows' fault. The whole batch waits
      // and is tried again with backoff; only a batch refused for its content is halved.
      if (isDatabaseUnavailable(err) || !(await this.repository.reachable())) throw err;
      if (count === 1) {
        this.logger.error({ auditNotStored: loggable(batch[0]), err: message(err) });
        this.take(1);
        this.countDropped(1, true);
        return;
      }
      const half = Math.ceil(count / 2);
      await this.writeHead(half);
      await this.writeHead(count - half);
      return;
    }
    this.take(count);
    this.flushed += count;
    this.metrics.auditRowsFlushed(count);
  }

  private take(count: number): void {
    for (const row of this.buffer.splice(0, count)) this.bufferedChars -= rowChars(row);
  }

  private backOff(err: unknown): void {
    if (this.retryDelay === 0) {
      this.logger.warn(
        `The audit store cannot be written (${message(err)}); buffering up to ${AUDIT_MAX_BUFFERED} rows and retrying`,
      );
    }
    this.retryDelay = Math.min(Math.max(this.retryDelay * 2, RETRY_FIRST_MS), RETRY_MAX_MS);
    this.retryAt = Date.now() + this.retryDelay;
    this.sleep();
    this.wake(this.retryDelay);
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

function toRow(event: AuditEvent, now: number): BufferedRow {
  return {
    at: now,
    event: cut(event.event, AUDIT_LIMITS.event)!,
    outcome: cut(event.outcome, AUDIT_LIMITS.outcome)!,
    actor: own(cut(event.actor, AUDIT_LIMITS.actor)),
    authMethod: cut(event.authMethod, AUDIT_LIMITS.authMethod),
    credentialId: cut(event.credentialId, AUDIT_LIMITS.credentialId),
    ip: cut(event.ip, AUDIT_LIMITS.ip),
    method: cut(event.method, AUDIT_LIMITS.method),
    path: own(cut(event.path, AUDIT_LIMITS.path)),
    status: Number.isInteger(event.status) ? event.status! : null,
    reason: cut(event.reason, AUDIT_LIMITS.reason),
    userAgent: own(cut(event.userAgent, AUDIT_LIMITS.userAgent)),
    requestId: cut(event.requestId, AUDIT_LIMITS.requestId),
    details: event.details ? detailsJson(event.details) : null,
  };
}

/**
 * Cut to the column's width. NUL, which PostgreSQL refuses in text (a Basic username can carry
 * one), becomes U+FFFD, so that no caller can make a batch fail on purpose.
 */
function cut(value: string | null | undefined, max: number): string | null {
  if (value === undefined || value === null) return null;
  const fitted = value.length > max ? value.slice(0, max) : value;
  return fitted.includes('\0') ? fitted.replace(/\0/g, '\uFFFD') : fitted;
}

/**
 * A copy of a long string taken from a request: a slice would keep the whole header or URL it
 * came from alive for as long as the row waits in the buffer.
 */
function own(value: string | null): string | null {
  return value !== null && value.length > 32 ? Buffer.from(value, 'utf8').toString('utf8') : value;
}

function rowChars(row: BufferedRow): number {
  return (
    ROW_BASE_CHARS +
    (row.path?.length ?? 0) +
    (row.userAgent?.length ?? 0) +
    (row.details?.length ?? 0) +
    (row.actor?.length ?? 0) +
    (row.reason?.length ?? 0)
  );
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

/** A row as the log shows it: its instant in ISO 8601. */
function loggable(row: BufferedRow): Record<string, unknown> {
  return { ...row, at: new Date(row.at).toISOString() };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
