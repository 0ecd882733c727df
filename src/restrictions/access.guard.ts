import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import { AuditSink } from '../audit/audit.port';
import { parseAuthorization } from '../common/credentials';
import {
  AUTH_POLICY,
  AuthenticatedRequest,
  AuthPolicy,
  DEFAULT_KINDS,
} from '../common/decorators/auth-policy.decorator';
import { DomainError } from '../common/problem/domain-error';
import { requestMeta } from '../common/request-meta';
import { AccessPipeline } from './access-pipeline.service';
import { ClientIpService } from './client-ip.service';
import { RateLimiterService, rateLimitHeaders } from './rate-limit/rate-limiter.service';

const DEFAULT_POLICY: AuthPolicy = { kinds: DEFAULT_KINDS };

export type GuardedRequest = AuthenticatedRequest & { refreshClaims?: unknown; clientIp?: string };

/**
 * The one global guard: every route is protected unless marked @Public(); the route's policy
 * names the credential kinds it takes, whether it is for administrators, and whether it is an
 * API route. The judging itself is the access pipeline, shared with the decision endpoint.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  /** Route metadata never changes after start: read it once per handler, not per request. */
  private readonly policies = new WeakMap<object, AuthPolicy>();

  constructor(
    private readonly reflector: Reflector,
    private readonly pipeline: AccessPipeline,
    private readonly clientIp: ClientIpService,
    private readonly limiter: RateLimiterService,
    private readonly audit: AuditSink,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const handler = context.getHandler();
    let policy = this.policies.get(handler);
    if (!policy) {
      policy =
        this.reflector.getAllAndOverride<AuthPolicy | undefined>(AUTH_POLICY, [
          handler,
          context.getClass(),
        ]) ?? DEFAULT_POLICY;
      this.policies.set(handler, policy);
    }
    const http = context.switchToHttp();
    if (policy.public) {
      if (policy.login) {
        const request = http.getRequest<GuardedRequest>();
        this.limitLogin(
          request,
          http.getResponse<FastifyReply>(),
          this.clientIp.resolve(request.ip, request.headers),
        );
      }
      return true;
    }
    const request = http.getRequest<GuardedRequest>();
    const clientIp = this.clientIp.resolve(request.ip, request.headers);
    request.clientIp = clientIp;
    try {
      if (policy.login) this.limitLogin(request, http.getResponse<FastifyReply>(), clientIp);
      const q = request.url.indexOf('?');
      const decision = await this.pipeline.judge({
        method: request.method,
        path: q === -1 ? request.url : request.url.slice(0, q),
        request: { headers: request.headers, ip: clientIp },
        policy,
      });
      request.principal = decision.principal;
      if (decision.openBecause === 'rest_api_authentication_disabled') {
        const meta = requestMeta(request);
        this.audit.record({
          event: 'access.allowed',
          outcome: 'allowed',
          reason: decision.openBecause,
          ip: clientIp,
          method: meta.method,
          path: meta.path,
          requestId: meta.requestId,
        });
      }
      if (decision.refreshClaims) request.refreshClaims = decision.refreshClaims;
      if (decision.rateLimit)
        http.getResponse<FastifyReply>().headers(rateLimitHeaders(decision.rateLimit));
    } catch (err) {
      if (policy.failureEvent && err instanceof DomainError && err.status === 401)
        this.recordFailure(policy.failureEvent, request, err);
      throw err;
    }
    return true;
  }

  /**
   * /system/auth: a username and address with too many recent failures is refused before the
   * password is checked; whatever answers 401 here (wrong password, unknown user) counts as one.
   */
  private limitLogin(request: GuardedRequest, reply: FastifyReply, clientIp: string): void {
    const credential = parseAuthorization(request.headers.authorization);
    const body = request.body as { username?: unknown } | undefined;
    const username =
      credential.scheme === 'basic'
        ? credential.username
        : typeof body?.username === 'string'
          ? body.username
          : null;
    if (username === null) return;
    const name = username.slice(0, 255);
    this.limiter.assertLoginAllowed(name, clientIp);
    reply.raw.once('finish', () => {
      if (reply.statusCode === 401) void this.limiter.recordLoginFailure(name, clientIp);
    });
  }

  private recordFailure(event: string, request: GuardedRequest, err: DomainError): void {
    const credential = parseAuthorization(request.headers.authorization);
    const meta = requestMeta(request);
    this.audit.record({
      event,
      outcome: 'failure',
      actor: credential.scheme === 'basic' ? credential.username.slice(0, 255) : null,
      authMethod:
        credential.scheme === 'basic' ? 'basic' : credential.scheme === 'none' ? 'session' : null,
      ip: request.clientIp ?? meta.ip,
      userAgent: meta.userAgent,
      requestId: meta.requestId,
      method: meta.method,
      path: meta.path,
      status: 401,
      reason: err.code,
    });
  }
}
