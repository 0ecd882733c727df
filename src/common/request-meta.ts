import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedRequest } from './decorators/auth-policy.decorator';
import type { Principal } from './principal';

/** Who made a change, as the services name them in its audit row. */
export interface RequestActor {
  username: string;
  requestId: string;
  ip: string;
}

/** What audit rows and sessions record about a request. */
export interface RequestMeta {
  /** The client's address behind the trusted proxies, never a proxy's (see src/http/client-ip.ts). */
  ip: string;
  userAgent: string | null;
  requestId: string;
  method: string;
  path: string;
  /** The authenticated caller; absent on a route open to anyone. */
  actor?: RequestActor;
}

const MAX_USER_AGENT = 512;

/** The caller's User-Agent, cut to what audit rows and sessions keep. */
export function userAgentOf(headers: FastifyRequest['headers']): string | null {
  const ua = headers['user-agent'];
  return typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT) : null;
}

/** What audit rows and sessions record about a request. */
export function requestMeta(request: AuthenticatedRequest): RequestMeta {
  const url = request.url;
  const q = url.indexOf('?');
  const ip = request.clientIp;
  const requestId = String(request.id);
  const principal = request.principal;
  const meta: RequestMeta = {
    ip,
    userAgent: userAgentOf(request.headers),
    requestId,
    method: request.method,
    path: q === -1 ? url : url.slice(0, q),
  };
  if (principal) meta.actor = { username: principal.username, requestId, ip };
  return meta;
}

/**
 * The one request edge of the controllers: `@RequestMeta() meta` is the whole RequestMeta,
 * `@RequestMeta('actor') actor` the caller (on an authenticated route), `@RequestMeta('ip')`
 * the client's address.
 */
export const RequestMeta = createParamDecorator(
  (field: keyof RequestMeta | undefined, ctx: ExecutionContext) => {
    const meta = requestMeta(ctx.switchToHttp().getRequest<AuthenticatedRequest>());
    return field ? meta[field] : meta;
  },
);

/** The fields of an audit row that say who made the request, from where and how. */
export function madeBy(principal: Principal, meta: RequestMeta) {
  return {
    actor: principal.username,
    authMethod: principal.authMethod,
    credentialId: principal.credentialId,
    ip: meta.ip,
    method: meta.method,
    path: meta.path,
    userAgent: meta.userAgent,
    requestId: meta.requestId,
  };
}
