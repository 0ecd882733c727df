import { CONTROL_CHARACTER } from '../common/text';
import { canonicalQuery, QshError } from './qsh';

/**
 * What a call to a tenant may carry, checked the same way by the admin API's validation and by
 * ConnectHostClient: the request target in the exact form it takes on the wire, and the account
 * a call acts as.
 *
 * The `qsh` a tenant checks is computed over the raw path it receives. A URL parser (fetch's)
 * percent-encodes a space or `é` in the path and drops a tab or a line break, so a hash over the
 * target as given would not match what arrives. The target is therefore put in its wire form
 * first (every character outside RFC 3986's `pchar`, `/` and `?` percent-encoded as UTF-8), and
 * that very string is both hashed and sent; anything a parser would still change is refused.
 */
export class HostRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostRequestError';
  }
}

/** The account id Atlassian gives a user: printable ASCII, no spaces. */
export const ACCOUNT_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** RFC 3986 `pchar` and `/`; `%` only as part of an escape (checked before). */
const PATH_KEPT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]$/;
/** As in the path, with `?`; `'` is encoded because URL parsers encode it in an http(s) query. */
const QUERY_KEPT = /^[A-Za-z0-9\-._~!$&()*+,;=:@/?%]$/;
const STRAY_PERCENT = /%(?![0-9A-Fa-f]{2})/;
/** Half of a surrogate pair on its own: it has no UTF-8 form. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * `target` (a path relative to the tenant's base URL, with its query) in wire form. Idempotent:
 * a target already in wire form comes back unchanged.
 */
export function wireTarget(target: string): string {
  if (!target.startsWith('/') || target.startsWith('//'))
    throw new HostRequestError('must be a path relative to the tenant: /rest/…');
  // A CR or LF would split the request line; a tab is dropped by URL parsers.
  if (CONTROL_CHARACTER.test(target))
    throw new HostRequestError('must not hold control characters');
  // A URL parser reads `\` as `/` and never sends a fragment: either way the tenant gets another target.
  if (target.includes('\\')) throw new HostRequestError('must not hold a backslash');
  if (target.includes('#')) throw new HostRequestError('must not hold a fragment (#)');
  if (LONE_SURROGATE.test(target))
    throw new HostRequestError('must be well-formed Unicode (a lone surrogate was found)');
  if (STRAY_PERCENT.test(target))
    throw new HostRequestError('must write % only as a percent-encoding (%XX)');
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  // `.` and `..` (also as %2e) are removed by URL parsers, which could leave the base URL's path.
  if (path.split('/').some(isDotSegment))
    throw new HostRequestError('must not hold . or .. segments');
  if (q === -1) return encode(path, PATH_KEPT);
  const query = encode(target.slice(q + 1), QUERY_KEPT);
  try {
    canonicalQuery(query);
  } catch (err) {
    // Escapes that are not UTF-8 (`%FF`): the tenant's reading of them, and so its qsh, is unknown.
    if (err instanceof QshError) throw new HostRequestError(`cannot be signed: ${err.message}`);
    throw err;
  }
  return `${encode(path, PATH_KEPT)}?${query}`;
}

/**
 * The absolute URL of a wire-form `target` on the tenant at `baseUrl` (whose own path is kept
 * as the prefix). Refused if a URL parser would serialize it differently: then the request sent
 * would not be the one signed.
 */
export function tenantUrl(baseUrl: string, target: string): string {
  const base = new URL(baseUrl);
  const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}${target}`;
  if (new URL(url).href !== url)
    throw new HostRequestError('does not keep its form in a URL: it cannot be signed');
  return url;
}

/** Why `target` cannot be sent, or null when it can. */
export function targetProblem(target: string): string | null {
  try {
    wireTarget(target);
    return null;
  } catch (err) {
    if (err instanceof HostRequestError) return err.message;
    throw err;
  }
}

function isDotSegment(segment: string): boolean {
  const dots = segment.replace(/%2e/gi, '.');
  return dots === '.' || dots === '..';
}

function encode(value: string, kept: RegExp): string {
  let out = '';
  for (const char of value) out += kept.test(char) ? char : percentEncode(char);
  return out;
}

function percentEncode(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8'))
    out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
