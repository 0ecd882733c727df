import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import type { AuditEvent } from '../audit/audit.port';
import {
  AUTH_POLICY,
  AuthenticatedRequest,
  AuthPolicy,
  DEFAULT_KINDS,
} from '../common/decorators/auth-policy.decorator';
import { attempt, MaybePromise } from '../common/maybe-promise';
import { DomainError } from '../common/problem/domain-error';
import { AccessAudit, JudgedRequest } from './access-audit';
import { AccessPipeline } from './access-pipeline.service';
import { RateLimiterService, rateLimitHeaders } from './rate-limit/rate-limiter.service';

const DEFAULT_POLICY: AuthPolicy = { kinds: DEFAULT_KINDS };

export type GuardedRequest = AuthenticatedRequest & {
  refreshClaims?: unknown;
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
    private readonly limiter: RateLimiterService,
    private readonly accessAudit: AccessAudit,
  ) {}

  /** A plain boolean when the pipeline answers from memory (MaybePromise), else a promise. */
  canActivate(context: ExecutionContext): MaybePromise<boolean> {
    const policy = this.policyOf(context);
    const http = context.switchToHttp();
    const request = http.getRequest<GuardedRequest>();
    if (policy.public && !policy.login) return true;
    const clientIp = request.clientIp;
    const q = request.url.indexOf('?');
    const judged: JudgedRequest = {
      ip: clientIp,
      method: request.method,
      path: q === -1 ? request.url : request.url.slice(0, q),
      headers: request.headers,
      requestId: request.id,
    };
    const refused = (err: unknown) => this.refused(policy, judged, err);
    if (policy.public) {
      // A sign-in route taking its password in the body: the address allow-list holds for it
      // as for every other, and so does the password-guessing budget.
      return attempt(
        () => {
          this.pipeline.checkAddress(clientIp);
          return this.limitBodyLogin(request, http.getResponse<FastifyReply>(), clientIp);
        },
        () => true,
        refused,
      );
    }
    return attempt(
      () =>
        this.pipeline.judge({
          method: judged.method,
          path: judged.path,
          request: {
            headers: request.headers,
            ip: clientIp,
            target: { method: request.method, url: request.url },
          },
          policy,
        }),
      (decision) => {
        request.principal = decision.principal;
        // Sign-in routes record their own outcome (auth.login.succeeded / failed).
        if (!policy.login)
          request.pendingAudit = this.accessAudit.allowed('access', judged, decision);
        if (decision.refreshClaims) request.refreshClaims = decision.refreshClaims;
        if (decision.rateLimit)
          http.getResponse<FastifyReply>().headers(rateLimitHeaders(decision.rateLimit));
        return true;
      },
      refused,
    );
  }

  private policyOf(context: ExecutionContext): AuthPolicy {
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
    return policy;
  }

  /** Audits a denial (a failed sign-in on sign-in routes) and throws it on. */
  private refused(policy: AuthPolicy, judged: JudgedRequest, err: unknown): never {
    if (err instanceof DomainError) {
      if (policy.failureEvent && err.status === 401)
        this.accessAudit.signInFailed(policy.failureEvent, judged, err);
      else this.accessAudit.denied('access', judged, err);
    }
    throw err;
  }

  /**
   * POST /system/auth: the password check the handler makes counts against the username's
   * budget (RateLimiterService.beginLogin), and a refused one against the address's budget, as
   * refused credentials are elsewhere; whatever answers 401 is a failure, and so is a
   * connection dropped before the answer was out.
   */
  private async limitBodyLogin(
    request: GuardedRequest,
    reply: FastifyReply,
    clientIp: string,
  ): Promise<void> {
    const body = request.body as { username?: unknown } | undefined;
    if (typeof body?.username !== 'string') return;
    this.limiter.assertPasswordChecksAllowed(clientIp);
    const started = this.limiter.beginLogin(body.username, clientIp);
    // Listened for before the check is under way: the connection may drop while it starts.
    reply.raw.once('close', () => {
      const failed = reply.statusCode === 401 || !reply.raw.writableFinished;
      started.then(
        (end) => {
          end(failed);
          // The answer is out: the address's budget only learns of the refusal for next time.
          if (failed) this.limiter.countRefused(clientIp).catch(() => undefined);
        },
        // Refused before it started (429): nothing under way to end.
        () => undefined,
      );
    });
    await started;
  }
}
