import type { INestApplicationContext } from '@nestjs/common';
import type { FastifyInstance, onRequestAbortHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { AuditSink } from '../audit/audit.port';
import { MetricsService } from '../metrics/metrics.service';
import type { GuardedRequest } from '../restrictions/access.guard';
import { DECISION_PATH } from '../restrictions/decision.route';
import type { Shutdown } from './shutdown';

/**
 * Where every answered request is accounted for: the access guard's pending audit row gets its
 * status and is recorded, the response is counted in the metrics, and a failure (or, at debug
 * level, every response) is logged. Returns what binds the audit sink and the metrics once the
 * application is built; no request is served before.
 */
export function recordAccess(
  fastify: FastifyInstance,
  logger: Logger,
  shutdown: Shutdown,
): (app: INestApplicationContext) => void {
  let audit: AuditSink;
  let metrics: MetricsService;
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const pending = (request as GuardedRequest).pendingAudit;
    if (pending) {
      (request as GuardedRequest).pendingAudit = undefined;
      pending.status = status;
      audit.record(pending);
    }
    metrics.response(
      request.method,
      request.routeOptions.url ?? '(no route)',
      status,
      reply.elapsedTime / 1000,
    );
    // The 503s of a shutdown are the plan working, not failures to log one by one.
    const failed = status >= 500 && !shutdown.wasShed(request);
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
  // (with no status: none was sent). The hook is each route's own, not a global one, so that
  // the decision endpoint goes without it: Fastify listens for `close` on every request of a
  // route that has one, and that route records its rows itself (decision.route.ts), leaving
  // none pending.
  const recordAborted: onRequestAbortHookHandler = (request, done) => {
    const pending = (request as GuardedRequest).pendingAudit;
    if (pending) {
      (request as GuardedRequest).pendingAudit = undefined;
      audit.record(pending);
    }
    done();
  };
  fastify.addHook('onRoute', (route) => {
    if (route.url === DECISION_PATH) return;
    const own = route.onRequestAbort ?? [];
    route.onRequestAbort = [recordAborted, ...(Array.isArray(own) ? own : [own])];
  });
  return (app) => {
    audit = app.get(AuditSink);
    metrics = app.get(MetricsService);
  };
}
