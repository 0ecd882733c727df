import { createHash } from 'node:crypto';

/**
 * Atlassian Connect's query string hash: SHA-256 (hex) of the canonical request
 * `METHOD&path&query`, as Atlassian defines it ("Understanding JWT for Connect apps"):
 *
 * - method in upper case;
 * - path relative to the app's base URL path, `/` when empty, no trailing `/`, `&` as `%26`
 *   (otherwise as sent: the path is not decoded or re-encoded);
 * - query without `jwt`; names and values decoded (form encoding: `+` is a space) and encoded
 *   again per RFC 3986 (`%20` for a space, `~` left alone, `!'()*` encoded); parameters sorted
 *   by name, the values of a repeated name sorted and joined with `,` (both sorted as decoded
 *   strings, in UTF-16 code unit order, as Atlassian's libraries do); `name=value` pairs joined
 *   with `&`.
 *
 * The interop vectors Atlassian publishes for its libraries are in the tests.
 */
export const CONTEXT_QSH = 'context-qsh';

export class QshError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QshError';
  }
}

/** `url` is the request target (origin form: path and query); `contextPath` the base URL's path. */
export function canonicalRequest(method: string, url: string, contextPath = ''): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  return `${method.toUpperCase()}&${canonicalPath(path, contextPath)}&${canonicalQuery(query)}`;
}

export function qshOf(method: string, url: string, contextPath = ''): string {
  return createHash('sha256')
    .update(canonicalRequest(method, url, contextPath))
    .digest('hex');
}

export function canonicalPath(path: string, contextPath = ''): string {
  let relative = path;
  if (contextPath !== '' && contextPath !== '/') {
    const prefix = contextPath.endsWith('/') ? contextPath.slice(0, -1) : contextPath;
    if (relative === prefix) relative = '';
    else if (relative.startsWith(`${prefix}/`)) relative = relative.slice(prefix.length);
  }
  while (relative.length > 1 && relative.endsWith('/')) relative = relative.slice(0, -1);
  if (relative === '') relative = '/';
  return relative.includes('&') ? relative.replace(/&/g, '%26') : relative;
}

export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const byName = new Map<string, string[]>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeForm(eq === -1 ? pair : pair.slice(0, eq));
    if (name === 'jwt') continue;
    const value = eq === -1 ? '' : decodeForm(pair.slice(eq + 1));
    const values = byName.get(name);
    if (values) values.push(value);
    else byName.set(name, [value]);
  }
  // Sorted as decoded strings (Atlassian's vectors: `.1` before `:1`, whose encoding is `%3A1`).
  return [...byName.keys()]
    .sort(byCodeUnit)
    .map(
      (name) =>
        `${encodeRfc3986(name)}=${byName.get(name)!.sort(byCodeUnit).map(encodeRfc3986).join(',')}`,
    )
    .join('&');
}

/** RFC 3986 §2.3: only unreserved characters stay as they are. */
export function encodeRfc3986(value: string): string {
  try {
    return encodeURIComponent(value).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  } catch {
    throw new QshError('The query holds a character that cannot be encoded');
  }
}

function decodeForm(value: string): string {
  const spaced = value.includes('+') ? value.replace(/\+/g, ' ') : value;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw new QshError('The query holds a malformed percent-encoding');
  }
}

/** UTF-16 code unit order: JavaScript's and Java's default string order. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
