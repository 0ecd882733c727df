import type { FastifyInstance, FastifyRequest } from 'fastify';
import { problem, sendProblem } from '../common/problem/problem.filter';

/** What a client shed while this instance shuts down is told to wait before trying again. */
export const CLOSING_RETRY_AFTER_SECONDS = 5;

/** Whether the instance is shutting down, and which requests it turned away for that. */
export class Shutdown {
  /** Set from preClose on. */
  closing = false;
  private readonly shed = new WeakSet<FastifyRequest>();

  wasShed(request: FastifyRequest): boolean {
    return this.shed.has(request);
  }

  markShed(request: FastifyRequest): void {
    this.shed.add(request);
  }
}

/**
 * Graceful stop: a keep-alive connection busy when the server starts closing would otherwise
 * stay open once answered (clients keep idle connections up to the 72 s keep-alive the server
 * announces), holding the shutdown, and with it the last audit flush, until the process is
 * killed. Responses sent while closing end their connection instead (see response-headers.ts).
 */
export function shedWhileClosing(fastify: FastifyInstance, shutdown: Shutdown): void {
  fastify.addHook('preClose', (done) => {
    shutdown.closing = true;
    done();
  });
  // A request that still arrives on an open connection while closing is not served (the
  // application is being taken apart): a 503 problem tells the client to try again, and the
  // onSend hook gives it the usual headers. Replying here means not calling done.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!shutdown.closing) return done();
    shutdown.markShed(request);
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
}
