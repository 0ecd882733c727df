import { Injectable } from '@nestjs/common';
import { AuthenticatorService } from '../auth/authenticator.service';
import { parseAuthorization } from '../common/credentials';
import { DEFAULT_KINDS } from '../common/decorators/auth-policy.decorator';
import { parseAddress } from '../common/ip';
import { Principal, READ_METHODS } from '../common/principal';
import { DomainError, Problems } from '../common/problem/domain-error';
import { hasScope, passwordOf, rateKeyOf } from './access-pipeline.service';
import { DECISION_POLICY } from './decision.service';
import { originalRequest } from './original-request';
import { NativeTokenRule } from './native-token.rule';
import { RateLimiterService } from './rate-limit/rate-limiter.service';
import { RestrictionsService } from './restrictions.service';
import { SettingsService } from '../settings/settings.service';

/**
 * The steps of the pipeline (docs/architecture.md#a-requests-path), in the order the decision
 * endpoint runs them.
 */
export type ExplainStepName =
  | 'client-address'
  | 'route-policy'
  | 'allow-list'
  | 'credential'
  | 'scope'
  | 'groups'
  | 'rate-limit';

/**
 * What a step made of the request: `pass` (went on to the next step), `allow` / `deny` (ended
 * the judging), `skip` (not reached, or not applicable), `info` (a fact the later steps use).
 */
export type StepVerdict = 'pass' | 'allow' | 'deny' | 'skip' | 'info';

export interface ExplainStep {
  step: ExplainStepName;
  verdict: StepVerdict;
  detail: string;
  /** The rule's code when the step refused (the `code` the decision endpoint would answer). */
  code?: string;
  /** This step decided the outcome. */
  decided: boolean;
}

export interface ExplainInput {
  method: string;
  uri: string;
  /** The client address to judge as; the operator's own when absent. */
  clientIp?: string;
  authorization?: string;
}

export interface Explanation {
  decision: 'allow' | 'deny';
  /** What the decision endpoint would answer: 200, 401, 403 or 429. */
  status: number;
  code: string | null;
  decidedBy: ExplainStepName;
  method: string;
  path: string;
  clientIp: string;
  /** Who the credential stands for, when it was accepted; never the credential itself. */
  principal: Pick<Principal, 'username' | 'groups' | 'authMethod' | 'credentialId'> | null;
  steps: ExplainStep[];
}

const ORDER: ExplainStepName[] = [
  'client-address',
  'route-policy',
  'allow-list',
  'credential',
  'scope',
  'groups',
  'rate-limit',
];

/**
 * The decision endpoint's pipeline as a dry run, step by step, for operators asking why a
 * request is (or would be) refused. It calls the same pieces the pipeline calls (route rules,
 * allow-list, authenticator, scope and group rules, rate limiter) in the same order, so the
 * rules live in one place; only the rate limit is read, not spent (RateLimiterService.peek).
 * A password check still counts against the password-guessing budget: explaining must not
 * become a way round it.
 */
@Injectable()
export class DecisionExplainer {
  constructor(
    private readonly authenticator: AuthenticatorService,
    private readonly restrictions: RestrictionsService,
    private readonly limiter: RateLimiterService,
    private readonly settings: SettingsService,
    private readonly native: NativeTokenRule,
  ) {}

  async explain(input: ExplainInput, operatorIp: string): Promise<Explanation> {
    const original = originalRequest({
      'x-original-method': input.method,
      'x-original-uri': input.uri,
    });
    const steps = new Trace();
    let clientIp = operatorIp;
    if (input.clientIp !== undefined) {
      const parsed = parseAddress(input.clientIp.trim());
      if (!parsed)
        throw Problems.invalidField('clientIp', 'clientIp must be an IPv4 or IPv6 address');
      clientIp = parsed.toString();
    }
    steps.add('client-address', 'info', `Judged as coming from ${clientIp}`);
    const base = { method: original.method, path: original.path, clientIp };
    const settings = this.settings.get();

    if (!settings.restApiAuthentication.enabled) {
      steps.add(
        'route-policy',
        'pass',
        'restApiAuthentication is off: every request is let through without credentials',
      );
      return this.openAt(steps, base, 'route-policy', clientIp);
    }
    const openness = this.restrictions.openness(
      original.method,
      original.path,
      original.otherReadings,
    );
    if (openness === 'bypass') {
      steps.add('route-policy', 'allow', 'The path matches bypass.paths: nothing is checked');
      return steps.finish(base, { decision: 'allow', status: 200, code: null }, null);
    }
    steps.add(
      'route-policy',
      'pass',
      openness === 'public'
        ? 'The path matches publicApis.paths: open without credentials'
        : 'A protected path: credentials are needed',
    );
    try {
      this.restrictions.checkAddress(clientIp);
      const allow = settings.ip.allow;
      steps.add(
        'allow-list',
        'pass',
        allow.length === 0
          ? 'ip.allow is empty: every address may call'
          : 'The address is in ip.allow',
      );
    } catch (err) {
      return steps.refused('allow-list', err, base, null);
    }
    if (openness === 'public') return this.openAt(steps, base, 'credential', clientIp, 'public');

    const authorization = input.authorization?.trim() || undefined;
    const request = {
      headers: authorization ? { authorization } : {},
      ip: clientIp,
      target: { method: original.method, url: original.uri },
    };
    let principal: Principal;
    const password = passwordOf(authorization);
    try {
      if (password) this.limiter.assertPasswordChecksAllowed(clientIp);
      const attempt = password && (await this.limiter.beginLogin(password.username, clientIp));
      try {
        principal = (
          await this.authenticator.authenticate(request, {
            kinds: DECISION_POLICY.kinds ?? DEFAULT_KINDS,
          })
        ).principal;
        if (attempt) attempt(false);
      } catch (err) {
        if (attempt) attempt(err instanceof DomainError && err.code === 'invalid_credentials');
        throw err;
      }
    } catch (err) {
      if (err instanceof DomainError && err.status === 401 && this.native.passes(authorization)) {
        steps.add(
          'credential',
          'pass',
          'None of Warden’s kinds: an upstream-native token, passed on unjudged (nativeOAuthTokens.allowed)',
        );
        return this.openAt(steps, base, 'scope', clientIp, 'native');
      }
      return steps.refused('credential', err, base, null, schemeOf(authorization));
    }
    steps.add(
      'credential',
      'pass',
      `${principal.authMethod} credential of ${principal.username} (groups: ${principal.groups.join(', ') || 'none'})`,
    );
    const seen = toSeen(principal);
    const needed = READ_METHODS.has(original.method) ? 'read' : 'write';
    if (!hasScope(principal.scopes, needed))
      return steps.refused(
        'scope',
        Problems.forbidden('scope_insufficient', `The token's scopes do not include ${needed}`),
        base,
        seen,
      );
    steps.add('scope', 'pass', `Scopes ${principal.scopes.join(', ')} cover ${needed}`);
    if (principal.authMethod === 'connect') {
      steps.add('groups', 'skip', 'Group rules do not apply to a Connect tenant');
    } else {
      try {
        this.restrictions.checkGroups(principal, original.method);
        steps.add('groups', 'pass', groupsPassed(settings.groups));
      } catch (err) {
        return steps.refused('groups', err, base, seen);
      }
    }
    return this.rateLimitAt(steps, base, rateKeyOf(principal), seen);
  }

  /** A request let through without credentials still spends the address's budget. */
  private openAt(
    steps: Trace,
    base: Base,
    next: ExplainStepName,
    clientIp: string,
    kind?: 'public' | 'native',
  ): Promise<Explanation> {
    for (const name of ORDER.slice(ORDER.indexOf(next)))
      if (name !== 'rate-limit' && !steps.has(name))
        steps.add(
          name,
          'skip',
          kind === 'native'
            ? 'The upstream judges its own token'
            : 'Not needed: the request is open',
        );
    return this.rateLimitAt(steps, base, `ip:${clientIp}`, null);
  }

  private async rateLimitAt(
    steps: Trace,
    base: Base,
    key: string,
    principal: Explanation['principal'],
  ): Promise<Explanation> {
    const state = await this.limiter.peek(key);
    if (!state) {
      steps.add('rate-limit', 'allow', 'rateLimit is off');
    } else if (state.wouldRefuse) {
      steps.add(
        'rate-limit',
        'deny',
        `The budget of ${state.limit} requests per ${state.windowSeconds} s is spent; it refills in ${state.reset} s`,
        'rate_limited',
      );
      return steps.finish(base, { decision: 'deny', status: 429, code: 'rate_limited' }, principal);
    } else {
      steps.add(
        'rate-limit',
        'allow',
        `${state.remaining + 1} of ${state.limit} requests left in this ${state.windowSeconds} s window (this explanation spent none)`,
      );
    }
    return steps.finish(base, { decision: 'allow', status: 200, code: null }, principal);
  }
}

type Base = Pick<Explanation, 'method' | 'path' | 'clientIp'>;

/** The steps so far; the last one added with `allow` or `deny` is the one that decided. */
class Trace {
  private readonly steps: ExplainStep[] = [];

  add(step: ExplainStepName, verdict: StepVerdict, detail: string, code?: string): void {
    this.steps.push({ step, verdict, detail, ...(code ? { code } : {}), decided: false });
  }

  has(step: ExplainStepName): boolean {
    return this.steps.some((s) => s.step === step);
  }

  /** A step that refused: its rule's code and detail, the later steps not reached. */
  refused(
    step: ExplainStepName,
    err: unknown,
    base: Base,
    principal: Explanation['principal'],
    presented?: string,
  ): Explanation {
    if (!(err instanceof DomainError)) throw err;
    const detail = presented ? `${presented}: ${err.detail}` : err.detail;
    this.add(step, 'deny', detail, err.code);
    return this.finish(base, { decision: 'deny', status: err.status, code: err.code }, principal);
  }

  finish(
    base: Base,
    outcome: Pick<Explanation, 'decision' | 'status' | 'code'>,
    principal: Explanation['principal'],
  ): Explanation {
    const decided = this.steps[this.steps.length - 1];
    decided.decided = true;
    for (const name of ORDER)
      if (!this.has(name)) this.add(name, 'skip', 'Not reached: an earlier step decided');
    this.steps.sort((a, b) => ORDER.indexOf(a.step) - ORDER.indexOf(b.step));
    return { ...outcome, decidedBy: decided.step, ...base, principal, steps: this.steps };
  }
}

function toSeen(principal: Principal): Explanation['principal'] {
  const { username, groups, authMethod, credentialId } = principal;
  return { username, groups: [...groups], authMethod, credentialId };
}

/** How the credential was presented (its scheme), never any part of it. */
function schemeOf(authorization: string | undefined): string {
  const scheme = parseAuthorization(authorization).scheme;
  return scheme === 'none' ? 'No credentials' : `Authorization ${scheme}`;
}

function groupsPassed(groups: { apiAccess: string[]; readOnly: string[] }): string {
  if (groups.apiAccess.length === 0 && groups.readOnly.length === 0)
    return 'No group rules are set (groups.apiAccess and groups.readOnly are empty)';
  return 'The group rules (groups.apiAccess, groups.readOnly) allow this request';
}
