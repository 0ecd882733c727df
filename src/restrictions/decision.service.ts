import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { AuditSink } from '../audit/audit.port';
import type { AuthPolicy } from '../common/decorators/auth-policy.decorator';
import { attempt, MaybePromise } from '../common/maybe-promise';
import { DomainError } from '../common/problem/domain-error';
import { AccessAudit, JudgedRequest } from './access-audit';
import { AccessPipeline, Decision } from './access-pipeline.service';
import { originalRequest } from './original-request';
import { rateLimitHeaders } from './rate-limit/rate-limiter.service';

/**
 * What the decision endpoint accepts: the credentials an upstream API's callers carry, and the
 * upstream's own session cookie (with UPSTREAM_BASE_URL set and upstreamSessions.decision on).
 */
export const DECISION_POLICY: AuthPolicy = {
  kinds: ['access', 'api-token', 'basic', 'connect', 'session'],
  api: true,
};

/** A reverse proxy's question, as plain values: nothing here depends on the web framework. */
export interface DecisionQuestion {
  /** The headers the proxy sent: the original method and URI, the caller's credentials. */
  headers: IncomingHttpHeaders;
  /** The client's address, resolved behind the trusted proxies. */
  ip: string;
  requestId: string;
}

export type DecisionBody =
  | { decision: 'allow'; authMethod: 'native' }
  | { decision: 'allow'; authMethod: 'anonymous'; reason: string }
  | { decision: 'allow'; user: string; authMethod: string };

/** An allowed request: the headers the proxy passes on to the upstream, and the 200's body. */
export interface DecisionVerdict {
  headers: Record<string, string>;
  body: DecisionBody;
}

/**
 * The decision endpoint's judgement (docs/integrations/nginx-traefik-jira.md#the-decision-endpoint): the original request through the access
 * pipeline, one audit row either way. A denial is the DomainError thrown, its row recorded; the
 * problem filter answers it as any other.
 */
@Injectable()
export class DecisionService {
  constructor(
    private readonly pipeline: AccessPipeline,
    private readonly audit: AuditSink,
    private readonly accessAudit: AccessAudit,
  ) {}

  /**
   * Synchronous (MaybePromise) when the pipeline answers from memory: a caller may `await` it, or
   * branch on `instanceof Promise` inside a try/catch (a refusal judged from memory is thrown).
   */
  decide(question: DecisionQuestion): MaybePromise<DecisionVerdict> {
    const { headers, ip } = question;
    const original = originalRequest(headers);
    const judged: JudgedRequest = {
      ip,
      method: original.method,
      path: original.path,
      headers,
      requestId: question.requestId,
    };
    return attempt(
      () =>
        this.pipeline.judge({
          method: original.method,
          path: original.path,
          otherPaths: original.otherReadings,
          request: { headers, ip, target: { method: original.method, url: original.uri } },
          policy: DECISION_POLICY,
          allowNative: true,
        }),
      (decision) => {
        const row = this.accessAudit.allowed('decision', judged, decision);
        row.status = 200;
        this.audit.record(row);
        return verdictOf(decision);
      },
      (err) => {
        if (err instanceof DomainError) this.accessAudit.denied('decision', judged, err);
        throw err;
      },
    );
  }
}

function verdictOf(decision: Decision): DecisionVerdict {
  const headers = decision.rateLimit ? rateLimitHeaders(decision.rateLimit) : {};
  if (decision.openBecause === 'native_token') {
    // The upstream judges its own token: no user is named on its behalf.
    headers['X-Warden-Auth-Method'] = 'native';
    return { headers, body: { decision: 'allow', authMethod: 'native' } };
  }
  const { principal } = decision;
  if (decision.openBecause) {
    // Let through without credentials: no user is named, so none can be mistaken for one.
    headers['X-Warden-Auth-Method'] = 'anonymous';
    return {
      headers,
      body: { decision: 'allow', authMethod: 'anonymous', reason: decision.openBecause },
    };
  }
  headers['X-Warden-User'] = headerSafe(principal.username);
  // Group names are well-formed text: the directory's by its rules, an IdP's by groupsOf.
  headers['X-Warden-Groups'] = principal.groups.map(encodeURIComponent).join(',');
  headers['X-Warden-Auth-Method'] = principal.authMethod;
  headers['X-Warden-Credential-Id'] = headerSafe(principal.credentialId);
  if (principal.tenant) headers['X-Warden-Tenant'] = headerSafe(principal.tenant);
  return {
    headers,
    body: { decision: 'allow', user: principal.username, authMethod: principal.authMethod },
  };
}

/**
 * Header values are Latin-1 (RFC 9110 §5.5): characters beyond printable ASCII are
 * percent-encoded (UTF-8), so a username such as 李雷 reaches the upstream as %E6%9D%8E%E9%9B%B7
 * instead of failing the answer; plain ASCII names are unchanged.
 */
export function headerSafe(value: string): string {
  return /^[\x21-\x7e]*$/.test(value)
    ? value
    : value.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(wellFormed(c)));
}

/** Half a surrogate pair alone (no character, and encodeURIComponent throws on it) as U+FFFD. */
function wellFormed(c: string): string {
  return /\p{Cs}/u.test(c) ? '\uFFFD' : c;
}
