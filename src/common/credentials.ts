import { CONTROL_CHARACTER } from './text';

/** What the Authorization header carries, parsed once and without judging it yet. */
export type PresentedCredential =
  | { scheme: 'none' }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'basic'; username: string; password: string }
  /** `Authorization: APIToken <token>`, the scheme some Atlassian-style clients use for personal tokens. */
  | { scheme: 'apitoken'; token: string }
  /** A token with no scheme: BigPicture clients send the refresh token this way to /system/reauth. */
  | { scheme: 'bare'; token: string }
  /** `Authorization: JWT <token>`: Atlassian Connect (the host product and its lifecycle callbacks). */
  | { scheme: 'jwt'; token: string }
  | { scheme: 'malformed'; reason: string }
  | { scheme: 'other'; name: string };

const MAX_HEADER = 16 * 1024;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SCHEMES = new Set(['bearer', 'basic', 'apitoken', 'jwt']);

export function parseAuthorization(header: string | string[] | undefined): PresentedCredential {
  if (header === undefined || header === '') return { scheme: 'none' };
  if (Array.isArray(header) || header.length > MAX_HEADER)
    return { scheme: 'malformed', reason: 'Authorization header is not valid' };
  const space = header.indexOf(' ');
  if (space === -1) {
    // `Bearer ` with nothing after it arrives as `Bearer` (HTTP trims the value): a scheme
    // without its credentials, not a token.
    if (SCHEMES.has(header.toLowerCase()))
      return { scheme: 'malformed', reason: `${header} needs credentials after it` };
    return TOKEN68.test(header)
      ? { scheme: 'bare', token: header }
      : { scheme: 'malformed', reason: 'Authorization header is not valid' };
  }
  const name = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  switch (name) {
    case 'bearer':
      // RFC 6750 §2.1 b64token: the full syntax check is the verifier's (decodeJws), so a
      // remembered token costs no scan of its characters here.
      return value !== '' && value.indexOf(' ') === -1 && value.indexOf(',') === -1
        ? { scheme: 'bearer', token: value }
        : { scheme: 'malformed', reason: 'Bearer token is not valid' };
    case 'basic':
      return parseBasic(value);
    case 'apitoken':
      return value !== '' && value.indexOf(' ') === -1
        ? { scheme: 'apitoken', token: value }
        : { scheme: 'malformed', reason: 'API token is not valid' };
    case 'jwt':
      return value !== '' && value.indexOf(' ') === -1 && value.indexOf(',') === -1
        ? { scheme: 'jwt', token: value }
        : { scheme: 'malformed', reason: 'JWT is not valid' };
    default:
      return { scheme: 'other', name };
  }
}

/** RFC 7617 §2: base64 of `user-id ":" password`; the user-id cannot contain a colon. */
function parseBasic(value: string): PresentedCredential {
  if (!BASE64.test(value) || value.length % 4 !== 0)
    return { scheme: 'malformed', reason: 'Basic credentials are not base64' };
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return { scheme: 'malformed', reason: 'Basic credentials need username:password' };
  // RFC 7617 §2: no control characters in the user-id (no stored username has any).
  const username = decoded.slice(0, colon);
  if (CONTROL_CHARACTER.test(username))
    return { scheme: 'malformed', reason: 'The username contains control characters' };
  return { scheme: 'basic', username, password: decoded.slice(colon + 1) };
}

/** Personal API tokens start with this, whichever way they are sent. */
export const API_TOKEN_MARK = 'wdn_';

/** The API token a request carries (Bearer, APIToken, or as the Basic password), if any. */
export function apiTokenFrom(
  header: string | string[] | undefined,
): { token: string; username?: string } | null {
  const credential = parseAuthorization(header);
  return apiTokenOf(credential);
}

export function apiTokenOf(
  credential: PresentedCredential,
): { token: string; username?: string } | null {
  switch (credential.scheme) {
    case 'bearer':
      return credential.token.startsWith(API_TOKEN_MARK) ? { token: credential.token } : null;
    case 'apitoken':
      return { token: credential.token };
    case 'basic':
      return credential.password.startsWith(API_TOKEN_MARK)
        ? { token: credential.password, username: credential.username }
        : null;
    default:
      return null;
  }
}

/**
 * The Connect JWT of a request: `Authorization: JWT …`, or the `jwt` query parameter (how the
 * host loads an app's pages). Null when there is none. Ambiguous — refused — when there are two
 * `jwt` parameters, or a header and a parameter: the upstream might read the other one. The
 * parameter is found by its decoded name (`%6Awt` is `jwt`), as the qsh leaves it out.
 */
export function connectTokenOf(
  credential: PresentedCredential,
  url: string | undefined,
  // 'ambiguous' names the refusal; a token with that text would be refused as malformed anyway.
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents
): string | null | 'ambiguous' {
  const q = url === undefined ? -1 : url.indexOf('?');
  const fromQuery = q === -1 ? [] : jwtParameters(url!.slice(q + 1));
  if (credential.scheme === 'jwt') return fromQuery.length === 0 ? credential.token : 'ambiguous';
  if (credential.scheme !== 'none' || fromQuery.length === 0) return null;
  if (fromQuery.length > 1) return 'ambiguous';
  return fromQuery[0] === '' ? null : fromQuery[0];
}

function jwtParameters(query: string): string[] {
  const found: string[] = [];
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    let name = rawName;
    if (rawName.includes('%') || rawName.includes('+')) {
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        continue;
      }
    }
    if (name === 'jwt') found.push(eq === -1 ? '' : pair.slice(eq + 1));
  }
  return found;
}

/** passport-jwt's token extractor for Warden's own tokens: `Bearer <jwt>` or the bare `<jwt>`. */
export function bearerOrBareToken(request: {
  headers: { authorization?: string | string[] };
}): string | null {
  const credential = parseAuthorization(request.headers.authorization);
  return credential.scheme === 'bearer' || credential.scheme === 'bare' ? credential.token : null;
}

/** passport-jwt's token extractor for tokens that are only ever sent as `Bearer <jwt>`. */
export function bearerToken(request: {
  headers: { authorization?: string | string[] };
}): string | null {
  const credential = parseAuthorization(request.headers.authorization);
  return credential.scheme === 'bearer' ? credential.token : null;
}
