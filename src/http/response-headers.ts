import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { securityHeaders } from '../common/http/security-headers';
import type { Shutdown } from './shutdown';

export type SecurityHeaders = ReturnType<typeof securityHeaders>;

/** The headers every answer carries besides the security set: its request id, and a close while shutting down. */
export function stampAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  shutdown: Shutdown,
): void {
  reply.header('x-request-id', request.id);
  if (shutdown.closing) reply.header('connection', 'close');
}

/** Security headers on every answer routed through Fastify: the explorer's, the console's or the API's. */
export function addResponseHeaders(
  fastify: FastifyInstance,
  headers: SecurityHeaders,
  shutdown: Shutdown,
): void {
  fastify.addHook('onSend', (request, reply, _payload, done) => {
    reply.headers(
      request.url.startsWith('/docs')
        ? headers.pages
        : request.url.startsWith('/console')
          ? headers.console
          : headers.api,
    );
    stampAnswer(request, reply, shutdown);
    done();
  });
}
