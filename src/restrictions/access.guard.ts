import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import type { AuditEvent } from '../audit/audit.port';
import { parseAuthorization } from '../common/credentials';
import {
  AUTH_POLICY,
  AuthenticatedRequest,
  AuthPolicy,
  DEFAULT_KINDS,
} from '../common/decorators/auth-policy.decorator';
import { DomainError } from '../common/problem/domain-error';
import { AccessAudit, JudgedRequest } from './access-audit';
import { AccessPipeline } from './access-pipeline.service';
import { ClientIpService } from './client-ip.service';
import { RateLimiterService, rateLimitHeaders } from './rate-limit/rate-limiter.service';

const DEFAULT_POLICY: AuthPolicy = { kinds: DEFAULT_KINDS };

export type GuardedRequest = AuthenticatedRequest & {
  refreshClaims?: unknown;
  clientIp?: string;
  /** The allowed decision's audit row, recorded with the status once the response is sent. */
  pendingAudit?: AuditEvent;
};

/**
 * The one global guard: every route is protected unless marked @Public(); the route's policy
 * names the credential kinds it takes, whether it is for administrators, and whether it is an
 * API route. The judging itself is the access pipeline, shared with the decision endpoint.
 * Every decision is audited: a denial at once, an allowed request when its response is sent.
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
    private readonly accessAudit: AccessAudit,
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
    const request = http.getRequest<GuardedRequest>();
    if (policy.public && !policy.login) return true;
    const clientIp = this.clientIp.resolve(request.ip, request.headers);
    request.clientIp = clientIp;
    const q = request.url.indexOf('?');
    const judged: JudgedRequest = {
      ip: clientIp,
      method: request.method,
      path: q === -1 ? request.url : request.url.slice(0, q),
      headers: request.headers,
      requestId: request.id,
    };
    try {
      if (policy.login) this.limitLogin(request, http.getResponse<FastifyReply>(), clientIp);
      if (policy.public) return true;
      const decision = await this.pipeline.judge({
        method: judged.method,
        path: judged.path,
        request: {
          headers: request.headers,
          ip: clientIp,
          target: { method: request.method, url: request.url },
        },
        policy,
      });
      request.principal = decision.principal;
      // Sign-in routes record their own outcome (auth.login.succeeded / failed).
      if (!policy.login)
        request.pendingAudit = this.accessAudit.allowed('access', judged, decision);
      if (decision.refreshClaims) request.refreshClaims = decision.refreshClaims;
      if (decision.rateLimit)
        http.getResponse<FastifyReply>().headers(rateLimitHeaders(decision.rateLimit));
    } catch (err) {
      if (err instanceof DomainError) {
        if (policy.failureEvent && err.status === 401)
          this.accessAudit.signInFailed(policy.failureEvent, judged, err);
        else this.accessAudit.denied('access', judged, err);
      }
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
}
