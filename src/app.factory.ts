import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { securityHeaders } from './common/http/security-headers';
import { createRootLogger, PinoNestLogger } from './common/logging';
import { setupOpenApi } from './openapi';
import { WardenConfig } from './config/warden-config';
import { serveConsole } from './console/console.static';
import { recordAccess } from './http/access-record';
import { createAdapter } from './http/adapter';
import { parseJsonBodies } from './http/body-parsing';
import { resolveClientIp } from './http/client-ip';
import { allowCrossOrigin, validationPipe } from './http/nest-setup';
import { addResponseHeaders } from './http/response-headers';
import { shedWhileClosing, Shutdown } from './http/shutdown';
import { refuseIllFormedText } from './http/text-check';
import { serveDecisionsOffNest } from './restrictions/decision.route';

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
  const shutdown = new Shutdown();
  const adapter = createAdapter(logger, headers, shutdown);
  const fastify = adapter.getInstance();
  parseJsonBodies(fastify);
  refuseIllFormedText(fastify);
  shedWhileClosing(fastify, shutdown);
  addResponseHeaders(fastify, headers, shutdown);
  const bindAccessRecords = recordAccess(fastify, logger, shutdown);
  const bindClientIp = resolveClientIp(fastify);
  // Before Nest registers its routes: the decision endpoint's is given a plain handler.
  const bindDecisions = serveDecisionsOffNest(fastify);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new PinoNestLogger(logger),
    bufferLogs: false,
    // The JSON parser of body-parsing.ts is the one bodies go through.
    bodyParser: false,
  });
  allowCrossOrigin(app, config.corsOrigins);
  bindAccessRecords(app);
  bindClientIp(app);
  bindDecisions(app);
  app.useGlobalPipes(validationPipe());
  app.enableShutdownHooks();
  setupOpenApi(app, config);
  await serveConsole(app);
  await app.init();
  return app;
}
