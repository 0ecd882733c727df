import type { INestApplicationContext } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ClientIpService } from '../restrictions/client-ip.service';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The client's address behind the trusted proxies (ClientIpService), not the socket peer:
     * worked out on first read and kept, so the guard, the audit rows and the sessions of one
     * request all name the same address.
     */
    readonly clientIp: string;
  }
}

const RESOLVED = Symbol('clientIp');

type Resolving = FastifyRequest & { [RESOLVED]: string | null };

/**
 * Gives every request its `clientIp`, resolved lazily: routes that never ask (health, the
 * console's files) never walk a forwarding header. Returns what binds the resolver once the
 * application is built; no request is served before.
 */
export function resolveClientIp(fastify: FastifyInstance): (app: INestApplicationContext) => void {
  let clientIps: ClientIpService;
  fastify.decorateRequest(RESOLVED, null);
  fastify.decorateRequest('clientIp', {
    getter(this: FastifyRequest): string {
      const request = this as Resolving;
      return (request[RESOLVED] ??= clientIps.resolve(request.ip, request.headers));
    },
  });
  return (app) => {
    clientIps = app.get(ClientIpService);
  };
}
