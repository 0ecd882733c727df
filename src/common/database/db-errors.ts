/** True when the driver reports a unique-constraint violation (PostgreSQL 23505, SQLite UNIQUE). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** Network errors on the way to the database server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/**
 * True when the database could not be reached or could not take the statement at all (as
 * opposed to refusing it): PostgreSQL connection failures (SQLSTATE class 08, 57P01–57P03, a
 * broken or timed-out connection), a statement cancelled (57014: over the statement timeout, or
 * cancelled by an operator) or refused a lock (55P03), SQLite busy, locked or I/O errors. Such a
 * request is a 503: nothing was decided, and the client may try again.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; driverError?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const inner = (e.driverError ?? e) as { code?: unknown; message?: unknown };
  const code =
    typeof inner.code === 'string' ? inner.code : typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code)) return true;
  if (/^08/.test(code) || ['57P01', '57P02', '57P03', '53300', '57014', '55P03'].includes(code))
    return true;
  if (/^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL)/.test(code)) return true;
  const message = String(inner.message ?? e.message ?? '');
  return /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|the database system is (starting up|shutting down)/i.test(
    message,
  );
}

/**
 * True when PostgreSQL refused a text value it cannot hold (a NUL character: SQLSTATE 22021,
 * or 22P05): the value came from the request, so the request is at fault, not the server.
 */
export function isUnstorableText(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  if (!e || typeof e !== 'object') return false;
  const code = e.driverError?.code ?? e.code;
  return code === '22021' || code === '22P05';
}

/**
 * True when PostgreSQL refused a value too long or too large for its column (SQLSTATE 22001
 * string data right truncation, 22003 numeric value out of range). Validation bounds what it
 * can, but counts differ at the edges: `İ` is one character and its lower case two, and a
 * length check that skips variation selectors counts fewer characters than the column does.
 * The value came from the request: a 400, not a 500.
 */
export function isValueOutOfRange(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  if (!e || typeof e !== 'object') return false;
  const code = e.driverError?.code ?? e.code;
  return code === '22001' || code === '22003';
}
