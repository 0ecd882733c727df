import {
  isDatabaseUnavailable,
  isUnstorableText,
  isValueOutOfRange,
} from '../database/db-errors';
import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from './domain-error';
import { isProblemCode, ProblemCode } from './problem-codes';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  requestId: string;
  instance?: string;
  [extra: string]: unknown;
}

const PROBLEM_TYPE_BASE = '/problems/';

/** Codes for the statuses the framework raises on its own (unknown route, bad JSON, body too large…). */
const CODE_BY_STATUS: Record<number, ProblemCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  409: 'conflict',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  422: 'unprocessable_content',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'service_unavailable',
};

/** The filter's logger, by the name its lines have always carried. */
const logger = new Logger('ProblemFilter');

/**
 * Every error leaves as application/problem+json (RFC 9457). A 5xx says only that something went
 * wrong and which request it was; the details go to the log under the same request id.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    answerProblem(exception, ctx.getRequest<FastifyRequest>(), ctx.getResponse<FastifyReply>());
  }
}

/**
 * The one answer to an error, for the filter and for the routes served off Nest's per-route
 * machinery (the decision endpoint, src/restrictions/decision.route.ts): its problem document
 * and headers (WWW-Authenticate, Retry-After, the rate limit's), a 5xx logged with its cause.
 */
export function answerProblem(
  exception: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const { body, headers } = toProblem(exception, String(request.id ?? ''));
  if (body.status >= 500) {
    logger.error({ err: exception, requestId: body.requestId }, 'Request failed');
  }
  sendProblem(reply, body, headers);
}

export function sendProblem(
  reply: FastifyReply,
  body: ProblemBody,
  headers: Record<string, string | string[]> = {},
) {
  if (reply.sent) return;
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  reply.status(body.status).type('application/problem+json').send(JSON.stringify(body));
}

export function toProblem(
  exception: unknown,
  requestId: string,
): { body: ProblemBody; headers: Record<string, string | string[]> } {
  if (exception instanceof DomainError) {
    return {
      body: problem(
        exception.status,
        exception.code,
        exception.title,
        exception.detail,
        requestId,
        exception.extras.fields,
      ),
      headers: exception.extras.headers ?? {},
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    const detail = httpExceptionDetail(response, exception.message);
    if (status >= 500) return { body: internal(requestId, status), headers: {} };
    const fields =
      typeof response === 'object' && response !== null && 'errors' in response
        ? { errors: (response as { errors: unknown }).errors }
        : undefined;
    const given =
      typeof response === 'object' && response !== null
        ? (response as { code?: unknown }).code
        : undefined;
    const code = isProblemCode(given) ? given : (CODE_BY_STATUS[status] ?? 'error');
    return {
      body: problem(status, code, STATUS_CODES[status] ?? 'Error', detail, requestId, fields),
      headers: {},
    };
  }
  // Errors raised by Fastify itself before a handler runs (content-type parser, body limit).
  const statusCode = (exception as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const code = CODE_BY_STATUS[statusCode] ?? 'bad_request';
    const detail =
      statusCode === 400
        ? 'The request body could not be parsed'
        : (STATUS_CODES[statusCode] ?? 'Bad request');
    return {
      body: problem(statusCode, code, STATUS_CODES[statusCode] ?? 'Error', detail, requestId),
      headers: {},
    };
  }
  if (isUnstorableText(exception)) {
    return {
      body: problem(
        400,
        'bad_request',
        'Bad Request',
        'The request holds characters that cannot be stored (such as NUL)',
        requestId,
      ),
      headers: {},
    };
  }
  if (isValueOutOfRange(exception)) {
    return {
      body: problem(
        400,
        'bad_request',
        'Bad Request',
        'A value in the request is too long or too large to be stored',
        requestId,
      ),
      headers: {},
    };
  }
  if (isDatabaseUnavailable(exception)) {
    // Nothing was decided and nothing half-written: the client may simply try again.
    return {
      body: problem(
        503,
        'database_unavailable',
        'Service Unavailable',
        'The database cannot be reached just now; try again shortly',
        requestId,
      ),
      headers: { 'Retry-After': '5' },
    };
  }
  return { body: internal(requestId, HttpStatus.INTERNAL_SERVER_ERROR), headers: {} };
}

function httpExceptionDetail(response: string | object, fallback: string): string {
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string') return message;
  return fallback;
}

function internal(requestId: string, status: number): ProblemBody {
  return problem(
    status,
    'internal_error',
    STATUS_CODES[status] ?? 'Internal Server Error',
    'The request could not be completed; quote the requestId when reporting it',
    requestId,
  );
}

export function problem(
  status: number,
  code: ProblemCode,
  title: string,
  detail: string,
  requestId: string,
  fields?: Record<string, unknown>,
): ProblemBody {
  return {
    type: PROBLEM_TYPE_BASE + code,
    title,
    status,
    detail,
    code,
    requestId,
    ...(fields ?? {}),
  };
}
