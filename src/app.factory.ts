import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet from '@fastify/helmet';
import { FastifyBaseLogger, LogController } from 'fastify';
import { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { AuditSink } from './audit/audit.port';
import { MetricsService } from './metrics/metrics.service';
import type { GuardedRequest } from './restrictions/access.guard';
import { setupOpenApi } from './common/openapi';
import { Problems } from './common/problem/domain-error';
import { createRootLogger, PinoNestLogger } from './common/logging';
import { flattenValidationErrors } from './common/validation-errors';
import { WardenConfig } from './config/warden-config';

/** A caller-supplied request id is kept only when it is short and plain, so logs cannot be forged through it. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BODY_LIMIT_BYTES = 1024 * 1024;

export interface CreateAppOptions {
  logger?: Logger;
}

/** Builds the application (not yet listening); the same for `npm start`, tests and the benchmark. */
export async function createApp(
  config: WardenConfig,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  const logger = options.logger ?? createRootLogger(config.logLevel);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // One line per response is written by the onResponse hook below, at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: building one (with redaction) costs more than the lines it
    // would write; the few request lines carry reqId themselves.
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 500 },
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
  });
  const fastify = adapter.getInstance();
  // Graceful stop: a keep-alive connection busy when the server starts closing would otherwise
  // stay open once answered (clients keep idle connections up to the 72 s keep-alive the server
  // announces), holding the shutdown, and with it the last audit flush, until the process is
  // killed. Responses sent while closing end their connection instead.
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onSend', (request, reply, _payload, done) => {
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
    const failed = status >= 500;
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
  });
  // Security headers on every answer. The policy lets the OpenAPI explorer at /docs load its own
  // scripts and styles and call this origin, and nothing else; no page may frame Warden's.
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
      },
    },
  });
  // Cross-origin calls only from the origins an operator names; none by default.
  if (config.corsOrigins.length > 0)
    app.enableCors({ origin: config.corsOrigins, credentials: false, maxAge: 600 });
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
  await app.init();
  return app;
}
