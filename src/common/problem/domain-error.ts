import type { ProblemCode, ProblemCodeFor, StatusOf } from './problem-codes';

/**
 * Errors the domain raises, each with a stable `code` that clients can switch on, taken from the
 * catalogue (problem-codes.ts) with the status it goes with. The ProblemFilter turns them into
 * RFC 9457 problem documents; nothing else decides a status.
 */
export class DomainError<C extends ProblemCode = ProblemCode> extends Error {
  constructor(
    readonly status: StatusOf<C>,
    readonly code: C,
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
  unauthorized: (
    detail: string,
    challenges: Challenge[],
    code: ProblemCodeFor<401> = 'unauthorized',
  ) =>
    new DomainError(401, code, 'Unauthorized', detail, {
      headers: { 'WWW-Authenticate': challengeHeader(challenges) },
    }),
  forbidden: (code: ProblemCodeFor<403>, detail: string) =>
    new DomainError(403, code, 'Forbidden', detail),
  notFound: (detail: string, code: ProblemCodeFor<404> = 'not_found') =>
    new DomainError(404, code, 'Not Found', detail),
  conflict: (detail: string, code: ProblemCodeFor<409> = 'conflict') =>
    new DomainError(409, code, 'Conflict', detail),
  badRequest: (
    detail: string,
    code: ProblemCodeFor<400> = 'bad_request',
    fields?: Record<string, unknown>,
  ) => new DomainError(400, code, 'Bad Request', detail, { fields }),
  /** A 400 naming one field, in the shape every validation refusal takes (`errors: [{ field, messages }]`). */
  invalidField: (field: string, message: string) =>
    new DomainError(400, 'validation_failed', 'Bad Request', 'The request is not valid', {
      fields: { errors: [{ field, messages: [message] }] },
    }),
  unavailable: (detail: string, code: ProblemCodeFor<503> = 'service_unavailable') =>
    new DomainError(503, code, 'Service Unavailable', detail, { headers: { 'Retry-After': '5' } }),
};
