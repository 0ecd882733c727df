import type { IncomingHttpHeaders } from 'node:http';
import { Problems } from '../common/problem/domain-error';
import { CONTROL_CHARACTER } from '../common/text';

const METHOD = /^[A-Z]{3,10}$/;
const MAX_URI = 8192;

export interface OriginalRequest {
  method: string;
  /** Normalised path: what the route rules judge. */
  path: string;
  /**
   * Other paths an upstream may serve for the same target, when servers read it differently
   * (see readingsOf); the route rules hold the request to the least open of them all.
   */
  otherReadings?: string[];
  /** The request target as sent (path and query): what a Connect token's qsh is bound to. */
  uri: string;
}

/** A segment's parameters: from a `;` to the end of the segment. */
const PATH_PARAMETERS = /;[^/]*/g;
/** A segment that is a dot segment only once its parameters are dropped: `..;x`, `.;`, `%2e;`. */
const DOT_WITH_PARAMETERS = /(?:^|\/)(?:\.|%2e){1,2};/i;

/**
 * The original request as a reverse proxy forwards it: Traefik ForwardAuth sends
 * X-Forwarded-Method / X-Forwarded-Uri, nginx auth_request X-Original-Method / X-Original-URI;
 * both pairs at once are refused (one of them came from the client).
 * The path is normalised the way the upstream will see it (dot segments resolved), so that
 * `/public/../admin` cannot pass for a public path; an encoded slash, a backslash, a `#` or a
 * control character is refused.
 */
export function originalRequest(headers: IncomingHttpHeaders): OriginalRequest {
  const traefik =
    headers['x-forwarded-method'] !== undefined || headers['x-forwarded-uri'] !== undefined;
  const nginx =
    headers['x-original-method'] !== undefined || headers['x-original-uri'] !== undefined;
  // A proxy sets its own pair; the other one can only have come from the client, which must not
  // choose the request Warden judges.
  if (traefik && nginx) {
    throw Problems.badRequest(
      'Send either X-Forwarded-Method / X-Forwarded-Uri or X-Original-Method / X-Original-URI, not both',
      'ambiguous_original_request',
    );
  }
  const method = single(headers['x-forwarded-method']) ?? single(headers['x-original-method']);
  const uri = single(headers['x-forwarded-uri']) ?? single(headers['x-original-uri']);
  if (!method || !uri) {
    throw Problems.badRequest(
      'The original request is missing: send X-Forwarded-Method and X-Forwarded-Uri, or X-Original-Method and X-Original-URI',
      'missing_original_request',
    );
  }
  // A URL parser drops TAB and newlines where it finds them (`/admin/..<TAB>/public/x` reads as
  // `/public/x`), while the upstream may not: what is judged must be what is served, so a
  // control character (C0, DEL, C1) anywhere in the method or the URI is refused.
  if (CONTROL_CHARACTER.test(method) || CONTROL_CHARACTER.test(uri)) {
    throw Problems.badRequest(
      'The original method or URI holds a control character',
      'invalid_original_request',
    );
  }
  const upper = method.toUpperCase();
  if (!METHOD.test(upper))
    throw Problems.badRequest('The original method is not valid', 'invalid_original_request');
  // `#`: no part of a request target (RFC 9112 section 3.2.1), and where a server accepts one it
  // ends the path there (nginx), while the header carries what follows it. A space is no part of
  // one either (a proxy forwards it encoded); one here is most likely the `, ` with which Node
  // joins a header sent twice, and the two requests it names cannot both be judged.
  const query = uri.indexOf('?');
  const target = query === -1 ? uri : uri.slice(0, query);
  if (
    !uri.startsWith('/') ||
    uri.length > MAX_URI ||
    uri.includes('#') ||
    uri.includes(' ') ||
    /%2f|%5c|\\/i.test(target)
  ) {
    throw Problems.badRequest(
      'The original URI is not a valid origin-form path',
      'invalid_original_request',
    );
  }
  // Path parameters (`;jsessionid=…`) are no part of the path to Tomcat, which serves Jira and
  // Confluence: there `/public/..;/admin` is `/admin`. They are dropped before judging, so the
  // path judged is the path served.
  const raw = target.includes(';') ? target.replace(PATH_PARAMETERS, '') : target;
  // Only a path that may hold dot segments (`/..`, `/./`, `%2e`) needs the URL parser's
  // normalisation; any other path is judged as it is, and also as servers that merge `//` read
  // it (a `*` matches an empty segment: `/*/health` takes in `//health`, served as `/health`).
  if (!raw.includes('/.') && !/%2e/i.test(raw)) {
    return raw.includes('//')
      ? { method: upper, path: raw, otherReadings: [raw.replace(/\/{2,}/g, '/')], uri }
      : { method: upper, path: raw, uri };
  }
  const [path, ...others] = readingsOf(target, raw);
  const otherReadings = [...new Set(others)].filter((other) => other !== path);
  return otherReadings.length > 0
    ? { method: upper, path, otherReadings, uri }
    : { method: upper, path, uri };
}

/**
 * The paths servers make of a target holding dot segments; the first drops the parameters, then
 * resolves the dot segments as a URL parser does. Servers part ways on two points, and a reading
 * is added for each the target touches:
 * - empty segments: nginx (merge_slashes, its default), Tomcat and Go merge `//` before resolving
 *   `..`, so `/public//../admin` is `/admin` to them and `/public/admin` to others;
 * - parameters: only Tomcat drops them, so to any other server `/admin/..;/public/x` is a path
 *   under `/admin/`, not `/public/x`.
 */
function readingsOf(target: string, withoutParameters: string): string[] {
  const sources = [withoutParameters];
  if (DOT_WITH_PARAMETERS.test(target)) sources.push(target);
  for (const source of [...sources])
    if (source.includes('//')) sources.push(source.replace(/\/{2,}/g, '/'));
  return sources.map(resolved);
}

function resolved(path: string): string {
  try {
    // Appended, not resolved against a base: `//admin/x` must stay a path (a base-relative parse
    // would take `admin` for a host and judge `/x`).
    return new URL(`http://upstream.invalid${path}`).pathname;
  } catch {
    throw Problems.badRequest(
      'The original URI is not a valid origin-form path',
      'invalid_original_request',
    );
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value || undefined;
}
