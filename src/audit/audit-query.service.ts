import { Injectable } from '@nestjs/common';
import { Problems } from '../common/problem/domain-error';
import { AuditEntryEntity } from './audit-entry.entity';
import { AuditCursor, AuditFilter, AuditRepository } from './audit.repository';
import type { AuditEntryView, AuditFilterDto, AuditPageView } from './dto/audit.dto';

export const DEFAULT_PAGE_ROWS = 100;
/** Rows read per query while exporting: the export never holds more than about this many. */
export const EXPORT_PAGE_ROWS = 1000;

const CSV_COLUMNS: (keyof AuditEntryView)[] = [
  'id',
  'at',
  'event',
  'outcome',
  'actor',
  'authMethod',
  'credentialId',
  'ip',
  'method',
  'path',
  'status',
  'reason',
  'userAgent',
  'requestId',
  'details',
];

/** Listing and export of the audit log, newest first, by keyset on (at, id). */
@Injectable()
export class AuditQueryService {
  constructor(private readonly repository: AuditRepository) {}

  async page(
    query: AuditFilterDto,
    limit = DEFAULT_PAGE_ROWS,
    cursor?: string,
  ): Promise<AuditPageView> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.repository.page(toFilter(query), limit + 1, after);
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map(toView);
    return {
      items,
      nextCursor: more ? encodeCursor(items[items.length - 1]) : null,
    };
  }

  /**
   * The export as text chunks, one page of rows per chunk, read only as fast as the client
   * takes them: memory holds a page or two, whatever the number of rows. The filter is checked
   * here, before the first byte is sent, so that a bad one is a 400 problem, not a cut stream.
   */
  export(query: AuditFilterDto, format: 'ndjson' | 'csv'): AsyncGenerator<string> {
    return this.chunks(toFilter(query), format);
  }

  private async *chunks(filter: AuditFilter, format: 'ndjson' | 'csv'): AsyncGenerator<string> {
    // The CSV header goes out with the first page, not before it: a filter the database refuses
    // fails that first query, and nothing may have been sent by then.
    let chunk = format === 'csv' ? `${CSV_COLUMNS.join(',')}\r\n` : '';
    let after: AuditCursor | undefined;
    for (;;) {
      const rows = await this.repository.page(filter, EXPORT_PAGE_ROWS, after);
      if (rows.length === 0) {
        if (chunk) yield chunk;
        return;
      }
      for (const row of rows) {
        const view = toView(row);
        chunk += format === 'csv' ? csvLine(view) : `${JSON.stringify(view)}\n`;
      }
      yield chunk;
      chunk = '';
      if (rows.length < EXPORT_PAGE_ROWS) return;
      const last = rows[rows.length - 1];
      after = { at: last.at, id: String(last.id) };
    }
  }
}

function toFilter(query: AuditFilterDto): AuditFilter {
  const filter: AuditFilter = {
    actor: query.actor,
    event: query.event,
    outcome: query.outcome,
    ip: query.ip,
    credentialId: query.credential,
  };
  if (query.from) filter.from = instant(query.from, 'from');
  if (query.to) filter.to = instant(query.to, 'to');
  if (filter.from && filter.to && filter.from > filter.to)
    throw Problems.badRequest('`from` is after `to`', 'invalid_time_range');
  return filter;
}

function toView(row: AuditEntryEntity): AuditEntryView {
  let details: Record<string, unknown> | null = null;
  if (row.details) {
    try {
      details = JSON.parse(row.details) as Record<string, unknown>;
    } catch {
      details = { unparsable: row.details };
    }
  }
  return {
    id: String(row.id),
    at: row.at.toISOString(),
    event: row.event,
    outcome: row.outcome,
    actor: row.actor,
    authMethod: row.authMethod,
    credentialId: row.credentialId,
    ip: row.ip,
    method: row.method,
    path: row.path,
    status: row.status,
    reason: row.reason,
    userAgent: row.userAgent,
    requestId: row.requestId,
    details,
  };
}

/** Instants the databases can compare: ISO 8601 forms Date reads, years 1970 to 9999. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(10000, 0, 1);
const MAX_ID = 9223372036854775807n;

function inRange(date: Date): boolean {
  const t = date.getTime();
  return !Number.isNaN(t) && t >= EARLIEST && t < LATEST;
}

function instant(text: string, name: string): Date {
  const date = new Date(text);
  if (!inRange(date)) {
    throw Problems.badRequest(
      `\`${name}\` must be a date and time such as 2026-11-01T00:00:00Z, between 1970 and 9999`,
      'invalid_time_range',
    );
  }
  return date;
}

/** Opaque to clients: base64url of "at|id". */
function encodeCursor(last: AuditEntryView): string {
  return Buffer.from(`${last.at}|${last.id}`).toString('base64url');
}

function decodeCursor(cursor: string): AuditCursor {
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const date = new Date(at);
  if (extra !== undefined || !/^\d{1,19}$/.test(id ?? '') || BigInt(id) > MAX_ID || !inRange(date))
    throw Problems.badRequest('The cursor is not one this API returned', 'invalid_cursor');
  return { at: date, id };
}

/**
 * RFC 4180 quoting; a cell that a spreadsheet would run as a formula (= + - @, tab, CR) is
 * prefixed with an apostrophe (OWASP "CSV injection"): paths and user agents come from callers.
 */
export function csvLine(view: AuditEntryView): string {
  let line = '';
  for (let i = 0; i < CSV_COLUMNS.length; i++) {
    const value = view[CSV_COLUMNS[i]];
    if (i > 0) line += ',';
    if (value === null || value === undefined) continue;
    line += csvCell(typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return `${line}\r\n`;
}

function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
