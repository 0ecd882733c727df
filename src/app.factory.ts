import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { securityHeaders } from './common/http/security-headers';
import {
  FastifyBaseLogger,
  FastifyError,
  FastifyReply,
  FastifyRequest,
  LogController,
} from 'fastify';
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { AuditSink } from './audit/audit.port';
import { MetricsService } from './metrics/metrics.service';
import type { GuardedRequest } from './restrictions/access.guard';
import { setupOpenApi } from './openapi';
import { Problems } from './common/problem/domain-error';
import { problem, sendProblem, toProblem } from './common/problem/problem.filter';
import { ILL_FORMED_TEXT_MESSAGE, illFormedTextAt } from './common/text';
import { createRootLogger, PinoNestLogger } from './common/logging';
import { flattenValidationErrors } from './common/validation-errors';
import { WardenConfig } from './config/warden-config';
import { serveConsole } from './console/console.static';

/** A caller-supplied request id is kept only when it is short and plain, so logs cannot be forged through it. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BODY_LIMIT_BYTES = 1024 * 1024;
/** What a client shed while this instance shuts down is told to wait before trying again. */
export const CLOSING_RETRY_AFTER_SECONDS = 5;
/** No request Warden takes nests JSON anywhere near this deep. */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of objects and arrays in a JSON text (brackets inside strings skipped). */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

export interface CreateAppOptions {
  logger?: Logger;
}

/** Builds the application (not yet listening); the same for `npm start`, tests and the benchmark. */
export async function createApp(
  config: WardenConfig,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  const logger = options.logger ?? createRootLogger(config.logLevel);
  // Security headers on every answer, computed once (see security-headers.ts).
  const headers = securityHeaders();
  // The same, as header lines, for the answers written straight to the socket.
  const rawApiHeaders = Object.entries(headers.api)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  // Set from preClose on: the instance is shutting down (see the onRequest hook below).
  let closing = false;
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // One line per response is written by the onResponse hook below, at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: building one (with redaction) costs more than the lines it
    // would write; the few request lines carry reqId themselves.
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 500 },
    // Fastify's own answer while closing is plain JSON without any of the headers below; the
    // onRequest hook answers instead, with a problem document.
    return503OnClosing: false,
    // A URL the router refuses (bad percent-encoding, a parameter over maxParamLength) is a
    // problem document like every other refusal.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const status = tooLong ? 414 : 400;
      // Fastify answers these before routing, outside every hook: the headers the onSend hook
      // gives other answers are set here.
      reply.headers(headers.api);
      reply.header('x-request-id', request.id);
      if (closing) reply.header('connection', 'close');
      sendProblem(
        reply,
        problem(
          status,
          tooLong ? 'uri_too_long' : 'bad_url',
          tooLong ? 'URI Too Long' : 'Bad Request',
          tooLong ? 'A path segment is too long' : 'The URL is not valid',
          String(request.id),
        ),
      );
    },
    // Requests the HTTP parser refuses (bad framing, oversized headers) get a problem document
    // too, not Fastify's own JSON; the connection is closed after it.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      // A response already on its way on this connection (the error came after it): only close.
      const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })
        ._httpMessage;
      if (!socket.writable || inFlight?.headersSent) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const title = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
      const requestId = randomUUID();
      const body = JSON.stringify(
        problem(
          status,
          status === 431 ? 'headers_too_large' : 'bad_request',
          title,
          status === 431 ? 'The request headers are too large' : 'The request could not be parsed',
          requestId,
        ),
      );
      socket.end(
        `HTTP/1.1 ${status} ${title}\r\n${rawApiHeaders}X-Request-Id: ${requestId}\r\n` +
          `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Connection: close\r\n\r\n${body}`,
        // Closed both ways once written: a client sending garbage holds no descriptor.
        () => socket.destroy(),
      );
    },
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
  });
  const fastify = adapter.getInstance();
  // JSON bodies: Fastify's own parser (prototype poisoning refused), after a nesting check, so
  // that a body of a million brackets costs one linear scan and a 400, not a deep recursion.
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  const jsonBody = (
    request: FastifyRequest,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const text = body as string;
    if (nestingDepth(text) > MAX_JSON_DEPTH) {
      const err = new Error(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`) as Error & {
        statusCode: number;
      };
      err.statusCode = 400;
      return done(err, undefined);
    }
    parseJson(request, text, done);
  };
  const asJson = { parseAs: 'string' as const, bodyLimit: BODY_LIMIT_BYTES };
  fastify.addContentTypeParser('application/json', asJson, jsonBody);
  // RFC 7396: a settings change may say what it is, a JSON merge patch.
  fastify.addContentTypeParser('application/merge-patch+json', asJson, jsonBody);
  // One check for every route, before its guards and its DTO: a NUL or a lone surrogate anywhere
  // in a body, a query or a path parameter is a 400 naming the field, as a validation error is.
  // Left to each field, it reaches validators that throw on it (class-validator's isEmail) and
  // a PostgreSQL text column that refuses it: a 500 either way.
  fastify.addHook('preValidation', (request, reply, done) => {
    const field =
      illFormedTextAt(request.body) ??
      illFormedTextAt(request.query) ??
      illFormedTextAt(request.params);
    if (field === null) return done();
    const refused = Problems.badRequest('The request is not valid', 'validation_failed', {
      errors: [{ field, messages: [ILL_FORMED_TEXT_MESSAGE] }],
    });
    const { body, headers: extra } = toProblem(refused, String(request.id));
    sendProblem(reply, body, extra);
  });
  // Graceful stop: a keep-alive connection busy when the server starts closing would otherwise
  // stay open once answered (clients keep idle connections up to the 72 s keep-alive the server
  // announces), holding the shutdown, and with it the last audit flush, until the process is
  // killed. Responses sent while closing end their connection instead.
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // A request that still arrives on an open connection while closing is not served (the
  // application is being taken apart): a 503 problem tells the client to try again, and the
  // onSend hook gives it the usual headers. Replying here means not calling done.
  const shed = new WeakSet<FastifyRequest>();
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!closing) return done();
    shed.add(request);
    sendProblem(
      reply,
      problem(
        503,
        'shutting_down',
        'Service Unavailable',
        'This instance is shutting down; try again shortly',
        String(request.id),
      ),
      { 'Retry-After': String(CLOSING_RETRY_AFTER_SECONDS) },
    );
  });
  fastify.addHook('onSend', (request, reply, _payload, done) => {
    reply.headers(
      request.url.startsWith('/docs')
        ? headers.pages
        : request.url.startsWith('/console')
          ? headers.console
          : headers.api,
    );
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
    done();
  });
  // Both are the application's own, known once it is built; no request is served before.
  const built: { audit?: AuditSink; metrics?: MetricsService } = {};
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const pending = (request as GuardedRequest).pendingAudit;
    if (pending) {
      (request as GuardedRequest).pendingAudit = undefined;
      pending.status = status;
      built.audit!.record(pending);
    }
    built.metrics!.response(
      request.method,
      request.routeOptions.url ?? '(no route)',
      status,
      reply.elapsedTime / 1000,
    );
    // The 503s of a shutdown are the plan working, not failures to log one by one.
    const failed = status >= 500 && !shed.has(request);
    if (failed || logger.isLevelEnabled('debug')) {
      const q = request.url.indexOf('?');
      const line = {
        reqId: request.id,
        method: request.method,
        path: q === -1 ? request.url : request.url.slice(0, q),
        status,
        ms: Math.round(reply.elapsedTime),
      };
      if (failed) logger.error(line, 'request failed');
      else logger.debug(line, 'request completed');
    }
    done();
  });
  // A client that hangs up before its answer gets no onResponse; its decision is still a row
  // (with no status: none was sent).
  fastify.addHook('onRequestAbort', (request, done) => {
    const pending = (request as GuardedRequest).pendingAudit;
    if (pending) {
      (request as GuardedRequest).pendingAudit = undefined;
      built.audit!.record(pending);
    }
    done();
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new PinoNestLogger(logger),
    bufferLogs: false,
    // The JSON parser registered above is the one bodies go through.
    bodyParser: false,
  });
  // Cross-origin calls only from the origins an operator names; none by default.
  if (config.corsOrigins.length > 0)
    app.enableCors({
      origin: config.corsOrigins,
      credentials: false,
      maxAge: 600,
      exposedHeaders: [
        'ETag',
        'Retry-After',
        'RateLimit-Limit',
        'RateLimit-Remaining',
        'RateLimit-Reset',
        'RateLimit-Policy',
        'X-Request-Id',
        'WWW-Authenticate',
      ],
    });
  built.audit = app.get(AuditSink);
  built.metrics = app.get(MetricsService);
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) =>
        Problems.badRequest('The request is not valid', 'validation_failed', {
          errors: flattenValidationErrors(errors),
        }),
    }),
  );
  app.enableShutdownHooks();
  setupOpenApi(app, config);
  await serveConsole(app);
  await app.init();
  return app;
}
