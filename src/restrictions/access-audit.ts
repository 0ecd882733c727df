import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { AuditEvent, AuditSink } from '../audit/audit.port';
import { parseAuthorization } from '../common/credentials';
import { DomainError } from '../common/problem/domain-error';
import { Principal } from '../common/principal';
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

const MAX_USER_AGENT = 512;
const RATE_LIMIT_CODES = new Set(['rate_limited', 'login_rate_limited']);
/** Who a denial after authentication was about; the error itself carries no principal. */
const deniedPrincipals = new WeakMap<DomainError, Principal>();

/** Marks `err` as a denial of `principal` (a known caller refused by a rule after sign-in). */
export function denyingPrincipal(err: unknown, principal: Principal): void {
  if (err instanceof DomainError) deniedPrincipals.set(err, principal);
}

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
      userAgent: userAgent(request.headers),
      requestId: request.requestId,
    };
  }

  /** Records the denial `err` of `request` at once (its status is the error's). */
  denied(source: DecisionSource, request: JudgedRequest, err: DomainError): void {
    const principal = deniedPrincipals.get(err);
    let actor: string | null = principal?.username ?? null;
    let kind: string = principal?.authMethod ?? 'none';
    if (!principal) {
      const presented = parseAuthorization(request.headers.authorization);
      kind = presented.scheme;
      if (presented.scheme === 'basic') actor = presented.username.slice(0, 255);
    }
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
      userAgent: userAgent(request.headers),
      requestId: request.requestId,
    });
  }
}

function userAgent(headers: IncomingHttpHeaders): string | null {
  const ua = headers['user-agent'];
  return typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT) : null;
}
