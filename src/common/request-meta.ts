import type { FastifyRequest } from 'fastify';

export interface RequestMeta {
  ip: string;
  userAgent: string | null;
  requestId: string;
  method: string;
  path: string;
}

const MAX_USER_AGENT = 512;

/** The caller's User-Agent, cut to what audit rows and sessions keep. */
export function userAgentOf(headers: FastifyRequest['headers']): string | null {
  const ua = headers['user-agent'];
  return typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT) : null;
}

/** What audit rows and sessions record about a request. */
export function requestMeta(request: FastifyRequest): RequestMeta {
  const url = request.url;
  const q = url.indexOf('?');
  return {
    // The client's address as the access guard resolved it behind trusted proxies, when it has.
    ip: (request as { clientIp?: string }).clientIp ?? request.ip,
    userAgent: userAgentOf(request.headers),
    requestId: String(request.id),
    method: request.method,
    path: q === -1 ? url : url.slice(0, q),
  };
}
