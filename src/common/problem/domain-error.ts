/**
 * Errors the domain raises, each with a stable `code` that clients can switch on. The
 * ProblemFilter turns them into RFC 9457 problem documents; nothing else decides a status.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly extras: {
      headers?: Record<string, string | string[]>;
      fields?: Record<string, unknown>;
    } = {},
  ) {
    super(detail);
    this.name = 'DomainError';
  }
}

export interface Challenge {
  scheme: 'Bearer' | 'Basic' | 'JWT';
  /** RFC 6750 §3.1 error code; absent when the request carried no credentials. */
  error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope';
  description?: string;
}

export const REALM = 'warden';

/** Builds one WWW-Authenticate value per challenge (RFC 7235 §4.1, RFC 6750 §3, RFC 7617 §2). */
export function challengeHeader(challenges: Challenge[]): string[] {
  return challenges.map((c) => {
    if (c.scheme === 'Basic') return `Basic realm="${REALM}", charset="UTF-8"`;
    const params = [`realm="${REALM}"`];
    if (c.error) params.push(`error="${c.error}"`);
    if (c.error && c.description)
      params.push(`error_description="${c.description.replace(/["\\]/g, '')}"`);
    return `${c.scheme} ${params.join(', ')}`;
  });
}

export const Problems = {
  unauthorized: (detail: string, challenges: Challenge[], code = 'unauthorized') =>
    new DomainError(401, code, 'Unauthorized', detail, {
      headers: { 'WWW-Authenticate': challengeHeader(challenges) },
    }),
  forbidden: (code: string, detail: string) => new DomainError(403, code, 'Forbidden', detail),
  notFound: (detail: string, code = 'not_found') => new DomainError(404, code, 'Not Found', detail),
  conflict: (detail: string, code = 'conflict') => new DomainError(409, code, 'Conflict', detail),
  badRequest: (detail: string, code = 'bad_request', fields?: Record<string, unknown>) =>
    new DomainError(400, code, 'Bad Request', detail, { fields }),
  unavailable: (detail: string, code = 'service_unavailable') =>
    new DomainError(503, code, 'Service Unavailable', detail, { headers: { 'Retry-After': '5' } }),
};
