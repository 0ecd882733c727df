import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { AuditEvent, AuditSink } from '../audit/audit.port';
import { parseAuthorization } from '../common/credentials';
import { deniedPrincipal } from '../common/problem/denied-principal';
import { DomainError } from '../common/problem/domain-error';
import { userAgentOf } from '../common/request-meta';
import { MetricsService } from '../metrics/metrics.service';
import type { Decision } from './access-pipeline.service';

/** `access.*` for Warden's own protected routes, `decision.*` for the decision endpoint. */
export type DecisionSource = 'access' | 'decision';

export interface JudgedRequest {
  ip: string;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  requestId: string;
}

const RATE_LIMIT_CODES = new Set(['rate_limited', 'login_rate_limited']);
/** Denials only the upstream session kind gives. */
const SESSION_CODES = new Set(['invalid_session', 'upstream_unavailable']);
/**
 * Turns a decision into its audit row and its count in the decision metric: one row per decision,
 * allowed or denied, with the rule that decided as `reason`. Over-limit denials are recorded as
 * `rate_limit.exceeded`, the event operators look for.
 */
@Injectable()
export class AccessAudit {
  constructor(
    private readonly audit: AuditSink,
    private readonly metrics: MetricsService,
  ) {}

  /** The row of an allowed request; the caller records it (the guard once the status is known). */
  allowed(source: DecisionSource, request: JudgedRequest, decision: Decision): AuditEvent {
    const principal = decision.principal;
    const kind = decision.openBecause === 'native_token' ? 'native' : principal.authMethod;
    this.metrics.decision(kind, 'allowed');
    const named = kind !== 'anonymous' && kind !== 'native';
    return {
      event: source === 'access' ? 'access.allowed' : 'decision.allowed',
      outcome: 'allowed',
      actor: named ? principal.username : null,
      authMethod: kind,
      credentialId: named ? principal.credentialId : null,
      ip: request.ip,
      method: request.method,
      path: request.path,
      status: null,
      reason: decision.openBecause ?? null,
      userAgent: userAgentOf(request.headers),
      requestId: request.requestId,
    };
  }

  /** Records the denial `err` of `request` at once (its status is the error's). */
  denied(source: DecisionSource, request: JudgedRequest, err: DomainError): void {
    const principal = deniedPrincipal(err);
    const presented = principal ? null : presentedBy(request.headers);
    const actor = principal?.username ?? presented!.actor;
    // A refused upstream session cookie presents no Authorization (scheme `none`): name its kind.
    const kind =
      principal?.authMethod ?? (SESSION_CODES.has(err.code) ? 'session' : presented!.scheme);
    this.metrics.decision(kind, 'denied');
    this.audit.record({
      event: RATE_LIMIT_CODES.has(err.code)
        ? 'rate_limit.exceeded'
        : source === 'access'
          ? 'access.denied'
          : 'decision.denied',
      outcome: 'denied',
      actor,
      authMethod: kind,
      credentialId: principal?.credentialId ?? null,
      ip: request.ip,
      method: request.method,
      path: request.path,
      status: err.status,
      reason: err.code,
      userAgent: userAgentOf(request.headers),
      requestId: request.requestId,
    });
  }

  /** A failed sign-in (a route that exchanges credentials): its own event, with who tried. */
  signInFailed(event: string, request: JudgedRequest, err: DomainError): void {
    const { scheme, actor } = presentedBy(request.headers);
    this.audit.record({
      event,
      outcome: 'failure',
      actor,
      authMethod: scheme === 'basic' ? 'basic' : scheme === 'none' ? 'session' : null,
      ip: request.ip,
      method: request.method,
      path: request.path,
      status: 401,
      reason: err.code,
      userAgent: userAgentOf(request.headers),
      requestId: request.requestId,
    });
  }
}

/** The credential scheme a request presented, and the username when it names one (Basic). */
function presentedBy(headers: IncomingHttpHeaders): { scheme: string; actor: string | null } {
  const presented = parseAuthorization(headers.authorization);
  return {
    scheme: presented.scheme,
    actor: presented.scheme === 'basic' ? presented.username.slice(0, 255) : null,
  };
}
