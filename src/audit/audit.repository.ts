import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository, SelectQueryBuilder } from 'typeorm';
import { JOB_LOCKS, JobLock } from '../common/database/job-lock';
import { AuditEntryEntity } from './audit-entry.entity';

/** A row as the writer buffers it: every value already cut to its column's width. */
export interface AuditRow {
  at: Date;
  event: string;
  outcome: string;
  actor: string | null;
  authMethod: string | null;
  credentialId: string | null;
  ip: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  reason: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: string | null;
}

/**
 * A row to insert. Its instant may also be milliseconds since the epoch, as the writer keeps it:
 * a Date is one more object per row for the collector while the row waits in the buffer.
 */
export type AuditRowInput = Omit<AuditRow, 'at'> & { at: Date | number };

export interface AuditFilter {
  from?: Date;
  to?: Date;
  actor?: string;
  /** An event name, or a family such as `user.*`. */
  event?: string;
  outcome?: string;
  ip?: string;
  credentialId?: string;
}

/** Where a page ends: listings run newest first by (at, id). */
export interface AuditCursor {
  at: Date;
  id: string;
}

const INSERT_COLUMNS = [
  'at',
  'event',
  'outcome',
  'actor',
  'auth_method',
  'credential_id',
  'ip',
  'method',
  'path',
  'status',
  'reason',
  'user_agent',
  'request_id',
  'details',
];
const MAX_CACHED_STATEMENTS = 8;
/** How long the purge may take to find where the newest maxEntries rows begin (PostgreSQL). */
const PURGE_BOUNDARY_TIMEOUT_MS = 120_000;
/** SQLite statement sizes, largest first; every batch is cut into these (the last is 1). */
const SQLITE_CHUNK_ROWS = [50, 10, 1] as const;
/**
 * The purge's locks: `run` while rows are being deleted; `firing` by a scheduled run, held past
 * its end to claim the cron firing (AuditRetentionService).
 */
export type PurgeLock = 'run' | 'firing';

@Injectable()
export class AuditRepository {
  private readonly postgres: boolean;
  /** The multi-row INSERT for each batch size seen, built once. */
  private readonly insertSql = new Map<number, string>();
  private readonly sqliteStatements = new Map<number, SqliteStatement>();
  private sqliteInsertAll: ((params: unknown[], rows: number) => void) | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(AuditEntryEntity) private readonly entries: Repository<AuditEntryEntity>,
    private readonly jobLock: JobLock,
  ) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  /**
   * The whole batch at once, on the driver's own connection: on PostgreSQL one multi-row INSERT,
   * a named statement per batch size (parsed once per connection: preparing a 7,000-parameter
   * statement for every batch cost as much as a fifth of the insert); on SQLite a transaction of
   * fixed-size INSERTs (sqliteInsertChunks).
   */
  async insertMany(rows: readonly AuditRowInput[]): Promise<void> {
    if (rows.length === 0) return;
    const params: unknown[] = new Array(rows.length * INSERT_COLUMNS.length);
    let i = 0;
    for (const row of rows) {
      // Raw queries skip TypeORM's value preparation; SQLite keeps milliseconds (see stored()).
      const at = typeof row.at === 'number' ? row.at : row.at.getTime();
      params[i++] = this.postgres ? new Date(at).toISOString() : at;
      params[i++] = row.event;
      params[i++] = row.outcome;
      params[i++] = row.actor;
      params[i++] = row.authMethod;
      params[i++] = row.credentialId;
      params[i++] = row.ip;
      params[i++] = row.method;
      params[i++] = row.path;
      params[i++] = row.status;
      params[i++] = row.reason;
      params[i++] = row.userAgent;
      params[i++] = row.requestId;
      params[i++] = row.details;
    }
    if (this.postgres) {
      // A named statement: PostgreSQL parses and plans it once per connection, not per batch.
      const pool = (this.dataSource.driver as unknown as { master: PgPool }).master;
      await pool.query({
        name: `warden_audit_insert_${rows.length}`,
        text: this.insertStatement(rows.length),
        values: params,
      });
    } else {
      this.sqliteInsertChunks(rows.length, params);
    }
  }

  /** Whether the database answers at all (a refused batch is then the rows' fault, not its). */
  async reachable(): Promise<boolean> {
    try {
      await this.dataSource.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /** Newest first, strictly after `after` when given. */
  page(filter: AuditFilter, limit: number, after?: AuditCursor): Promise<AuditEntryEntity[]> {
    const query = this.filtered(filter);
    if (after) {
      // Row-value comparison: both databases turn it into one index range on (…, at, id).
      query.andWhere('(a.at, a.id) < (:afterAt, :afterId)', {
        afterAt: this.stored(after.at),
        // SQLite compares its integer key with a number, not with text.
        afterId: this.postgres ? after.id : Number(after.id),
      });
    }
    return query.orderBy('a.at', 'DESC').addOrderBy('a.id', 'DESC').limit(limit).getMany();
  }

  count(filter: AuditFilter = {}): Promise<number> {
    return this.filtered(filter).getCount();
  }

  /**
   * Counts by time bucket, outcome and reason between `from` (inclusive) and `to` (exclusive),
   * optionally for one actor: one GROUP BY over the index range of `at` (or of actor, at). The
   * bucket is the instant's floor to a multiple of `bucketMs` since the epoch, in milliseconds.
   */
  async countByBucket(
    from: Date,
    to: Date,
    bucketMs: number,
    actor?: string,
  ): Promise<{ bucket: number; outcome: string; reason: string | null; count: number }[]> {
    const size = int(bucketMs);
    const bucket = this.postgres
      ? `(floor(extract(epoch from at) * 1000 / ${size}) * ${size})::bigint`
      : `(at / ${size}) * ${size}`;
    const params: unknown[] = [this.stored(from), this.stored(to)];
    const mark = (i: number) => (this.postgres ? `$${i}` : '?');
    let where = `at >= ${mark(1)} AND at < ${mark(2)}`;
    if (actor !== undefined) {
      params.push(actor);
      where += ` AND actor = ${mark(3)}`;
    }
    const rows: {
      bucket: string | number;
      outcome: string;
      reason: string | null;
      n: string | number;
    }[] = await this.dataSource.query(
      `SELECT ${bucket} AS bucket, outcome, reason, COUNT(*) AS n FROM audit_log
         WHERE ${where} GROUP BY 1, outcome, reason ORDER BY 1`,
      params,
    );
    return rows.map((r) => ({
      bucket: Number(r.bucket),
      outcome: r.outcome,
      reason: r.reason,
      count: Number(r.n),
    }));
  }

  /** The actors with the most events between `from` and `to`, most first. */
  async topActors(
    from: Date,
    to: Date,
    limit: number,
  ): Promise<{ actor: string; count: number }[]> {
    const rows: { actor: string; n: string | number }[] = await this.entries
      .createQueryBuilder('a')
      .select('a.actor', 'actor')
      .addSelect('COUNT(*)', 'n')
      .where('a.at >= :from AND a.at < :to', { from: this.stored(from), to: this.stored(to) })
      .andWhere('a.actor IS NOT NULL')
      .groupBy('a.actor')
      .orderBy('n', 'DESC')
      .limit(int(limit))
      .getRawMany();
    return rows.map((r) => ({ actor: r.actor, count: Number(r.n) }));
  }

  latest(event: string): Promise<AuditEntryEntity | null> {
    return this.filtered({ event }).orderBy('a.at', 'DESC').addOrderBy('a.id', 'DESC').getOne();
  }

  /** Deletes up to `batch` of the oldest rows older than `cutoff`; returns how many went. */
  async removeOlderThan(cutoff: Date, batch: number): Promise<number> {
    const result = await this.entries
      .createQueryBuilder()
      .delete()
      .where(
        `id IN (SELECT id FROM audit_log WHERE at < :cutoff ORDER BY at, id LIMIT ${int(batch)})`,
        { cutoff: this.stored(cutoff) },
      )
      .execute();
    return result.affected ?? 0;
  }

  /**
   * The newest row that is beyond the newest `keep` rows, as stored (no conversion: it is only
   * handed back to removeUpTo), or null when there are no more than `keep` rows.
   */
  async boundaryBeyond(keep: number): Promise<{ at: unknown; id: unknown } | null> {
    const sql = `SELECT at, id FROM audit_log ORDER BY at DESC, id DESC LIMIT 1 OFFSET ${int(keep)}`;
    if (!this.postgres) {
      const rows: { at: unknown; id: unknown }[] = await this.dataSource.query(sql);
      return rows[0] ?? null;
    }
    return this.dataSource.transaction(async (manager) => {
      // The OFFSET walks `keep` index entries: with a large maxEntries that may rightly take
      // longer than the statement timeout meant for requests.
      await manager.query(`SET LOCAL statement_timeout = ${int(PURGE_BOUNDARY_TIMEOUT_MS)}`);
      const rows: { at: unknown; id: unknown }[] = await manager.query(sql);
      return rows[0] ?? null;
    });
  }

  /** Deletes up to `batch` of the oldest rows at or before `boundary`; returns how many went. */
  async removeUpTo(boundary: { at: unknown; id: unknown }, batch: number): Promise<number> {
    const result = await this.entries
      .createQueryBuilder()
      .delete()
      .where(
        `id IN (SELECT id FROM audit_log WHERE (at, id) <= (:at, :id) ORDER BY at, id LIMIT ${int(batch)})`,
        { at: boundary.at, id: boundary.id },
      )
      .execute();
    return result.affected ?? 0;
  }

  /** Runs `work` only if no other instance holds `lock` (see JobLock); false when one does. */
  withPurgeLock(work: () => Promise<void>, lock: PurgeLock = 'run'): Promise<boolean> {
    return this.jobLock.runAlone(
      lock === 'run' ? JOB_LOCKS.auditPurgeRun : JOB_LOCKS.auditPurgeFiring,
      work,
    );
  }

  /**
   * An instant as `at` holds it: PostgreSQL a timestamptz, SQLite milliseconds since the epoch
   * (an integer: a fifth less work per inserted row than text, see the migration).
   */
  private stored(instant: Date): Date | number {
    return this.postgres ? instant : instant.getTime();
  }

  private filtered(filter: AuditFilter): SelectQueryBuilder<AuditEntryEntity> {
    const query = this.entries.createQueryBuilder('a');
    if (filter.from) query.andWhere('a.at >= :from', { from: this.stored(filter.from) });
    if (filter.to) query.andWhere('a.at < :to', { to: this.stored(filter.to) });
    if (filter.actor !== undefined) query.andWhere('a.actor = :actor', { actor: filter.actor });
    if (filter.event !== undefined) {
      if (filter.event.endsWith('.*')) {
        const family = filter.event.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`);
        query.andWhere(`a.event LIKE :family ESCAPE '\\'`, { family: `${family}%` });
      } else {
        query.andWhere('a.event = :event', { event: filter.event });
      }
    }
    if (filter.outcome !== undefined)
      query.andWhere('a.outcome = :outcome', { outcome: filter.outcome });
    if (rareRowsOnly(filter)) {
      // Says outright what the filter implies, so that SQLite (which does not infer it) can use
      // the partial indexes on event and outcome; see the audit-log migration.
      query.andWhere(`a.outcome <> 'allowed'`);
    }
    if (filter.ip !== undefined) query.andWhere('a.ip = :ip', { ip: filter.ip });
    if (filter.credentialId !== undefined)
      query.andWhere('a.credential_id = :credentialId', { credentialId: filter.credentialId });
    return query;
  }

  /**
   * SQLite: the batch as statements of a few fixed sizes in one transaction. A batch's size is
   * whatever the buffer held when it went (the timer's batches vary), and preparing a statement
   * for each new size cost more than the rows; fixed sizes are prepared once, and measured here a
   * statement of 50 rows is no dearer per row than one of 500. The values go to `run` as
   * arguments, not as one array: the driver then binds each without a property look-up (a tenth
   * of a row's cost, measured).
   */
  private sqliteInsertChunks(count: number, params: unknown[]): void {
    const connection = this.sqliteConnection();
    this.sqliteInsertAll ??= connection.transaction((all: unknown[], rows: number) => {
      const width = INSERT_COLUMNS.length;
      let row = 0;
      for (const size of SQLITE_CHUNK_ROWS) {
        while (rows - row >= size) {
          this.sqliteInsert(size).run(...all.slice(row * width, (row + size) * width));
          row += size;
        }
      }
    });
    this.sqliteInsertAll(params, count);
  }

  private sqliteInsert(count: number): SqliteStatement {
    let statement = this.sqliteStatements.get(count);
    if (!statement) {
      statement = this.sqliteConnection().prepare(this.insertStatement(count));
      this.sqliteStatements.set(count, statement);
    }
    return statement;
  }

  private sqliteConnection(): SqliteHandle {
    return (this.dataSource.driver as unknown as { databaseConnection: SqliteHandle })
      .databaseConnection;
  }

  private insertStatement(count: number): string {
    let sql = this.insertSql.get(count);
    if (!sql) {
      // Full batches are the common case; odd sizes come and go, so the cache stays small.
      if (this.insertSql.size >= MAX_CACHED_STATEMENTS) this.insertSql.clear();
      const width = INSERT_COLUMNS.length;
      const tuples: string[] = new Array(count);
      for (let r = 0; r < count; r++) {
        const marks: string[] = new Array(width);
        for (let c = 0; c < width; c++) marks[c] = this.postgres ? `$${r * width + c + 1}` : '?';
        tuples[r] = `(${marks.join(',')})`;
      }
      // SQLite: OR FAIL, because an INSERT that may abort half-way keeps a statement journal to
      // undo its own rows (a tenth of a row's cost, measured). The batch is one transaction
      // anyway: any failure rolls all of it back, and the writer tries it again.
      const verb = this.postgres ? 'INSERT' : 'INSERT OR FAIL';
      sql = `${verb} INTO audit_log (${INSERT_COLUMNS.join(',')}) VALUES ${tuples.join(',')}`;
      this.insertSql.set(count, sql);
    }
    return sql;
  }
}

interface PgPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<unknown>;
}
interface SqliteStatement {
  run(...params: unknown[]): unknown;
}
interface SqliteHandle {
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
}

/** Only allowed decisions have the outcome `allowed`, and only they are `*.allowed` events. */
const ALLOWED_EVENTS = ['access.allowed', 'decision.allowed'];

/** Whether every row the filter can match is one of the rare, not-allowed ones. */
function rareRowsOnly(filter: AuditFilter): boolean {
  if (filter.outcome !== undefined) return filter.outcome !== 'allowed';
  if (filter.event === undefined) return false;
  if (filter.event.endsWith('.*')) {
    const family = filter.event.slice(0, -1);
    return !ALLOWED_EVENTS.some((e) => e.startsWith(family));
  }
  return !ALLOWED_EVENTS.includes(filter.event);
}

/** Interpolated limits are always our own integers; this makes sure of it. */
function int(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a row count: ${n}`);
  return n;
}
