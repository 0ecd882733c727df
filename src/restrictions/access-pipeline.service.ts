import { Injectable } from '@nestjs/common';
import { AuthenticatorService, AuthRequest } from '../auth/authenticator.service';
import { WardenClaims } from '../auth/warden-tokens.service';
import { apiTokenOf, parseAuthorization } from '../common/credentials';
import { AuthPolicy, DEFAULT_KINDS } from '../common/decorators/auth-policy.decorator';
import { DomainError, Problems } from '../common/problem/domain-error';
import { isAdmin, Principal, READ_METHODS } from '../common/principal';
import { andThen, attempt, MaybePromise } from '../common/maybe-promise';
import {
  LoginAttempt,
  RateLimiterService,
  RateLimitState,
} from './rate-limit/rate-limiter.service';
import { denyingPrincipal } from '../common/problem/denied-principal';
import { NativeTokenRule } from './native-token.rule';
import { RestrictionsService } from './restrictions.service';
import { SettingsService } from '../settings/settings.service';

export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  username: 'anonymous',
  groups: [],
  authMethod: 'anonymous',
  credentialId: 'anonymous',
  scopes: [],
}) as Principal;

export interface JudgeInput {
  /** Method and path of the request being judged (the original one at the decision endpoint). */
  method: string;
  path: string;
  /**
   * Other paths the upstream may take the same request for (the decision endpoint, when servers
   * read its target differently): the request is only as open as the least open of them.
   */
  otherPaths?: readonly string[];
  /** Where the credentials are, with the client's address as `ip`. */
  request: AuthRequest;
  policy: AuthPolicy;
  /** The decision endpoint lets upstream-native bearer tokens through (nativeOAuthTokens). */
  allowNative?: boolean;
}

export interface Decision {
  principal: Principal;
  rateLimit: RateLimitState | null;
  refreshClaims?: WardenClaims;
  /** Why the request was let through without credentials, when it was. */
  openBecause?: 'bypass' | 'public' | 'rest_api_authentication_disabled' | 'native_token';
}

/**
 * The request pipeline of docs/architecture.md#a-requests-path, the same for a protected route and
 * for a question put to the decision endpoint: route policy (bypass, public), address allow-list,
 * authentication, authorization (admin, scopes, groups), rate limit.
 */
@Injectable()
export class AccessPipeline {
  constructor(
    private readonly authenticator: AuthenticatorService,
    private readonly restrictions: RestrictionsService,
    private readonly limiter: RateLimiterService,
    private readonly settings: SettingsService,
    private readonly native: NativeTokenRule,
  ) {}

  /**
   * Synchronous (MaybePromise) while everything it asks is in memory: a remembered token, the
   * allow-list, group rules, counters in memory. A password check, a token never seen and
   * counters in Redis continue asynchronously.
   */
  judge(input: JudgeInput): MaybePromise<Decision> {
    const { method, path, request, policy } = input;
    const clientIp = request.ip;
    if (policy.api) {
      if (!this.settings.get().restApiAuthentication.enabled)
        return this.open('rest_api_authentication_disabled', clientIp);
      const openness = this.restrictions.openness(method, path, input.otherPaths);
      if (openness === 'bypass')
        return { principal: ANONYMOUS, rateLimit: null, openBecause: 'bypass' };
      this.restrictions.checkAddress(clientIp);
      if (openness === 'public') return this.open('public', clientIp);
    } else {
      this.restrictions.checkAddress(clientIp);
    }
    // A username and password: the check counts against the password-guessing budget.
    const password = passwordOf(request.headers.authorization);
    if (!password) return this.authenticated(input);
    this.limiter.assertPasswordChecksAllowed(clientIp);
    return this.limiter
      .beginLogin(password.username, clientIp)
      .then((login) => this.authenticated(input, login));
  }

  /** Authentication, then the rules for whom it names; `login` ends a password check. */
  private authenticated(input: JudgeInput, login?: LoginAttempt): MaybePromise<Decision> {
    const { policy } = input;
    return attempt(
      () =>
        this.authenticator.authenticate(input.request, {
          kinds: policy.kinds ?? DEFAULT_KINDS,
          login: policy.login,
          connectContext: policy.connectContext,
        }),
      ({ principal, refreshClaims }) => {
        if (login) login(false);
        return this.authorized(input, principal, refreshClaims);
      },
      (err) => this.refused(input, err, login),
    );
  }

  /** Credentials refused: the native-token way out, or the refusal, counted. */
  private refused(input: JudgeInput, err: unknown, login?: LoginAttempt): MaybePromise<Decision> {
    const { request } = input;
    const clientIp = request.ip;
    if (login) login(err instanceof DomainError && err.code === 'invalid_credentials');
    // Only a token none of Warden's strategies accepted is looked at as an upstream-native one:
    // Warden's own tokens, the usual case, cost no extra decoding.
    if (
      input.allowNative &&
      err instanceof DomainError &&
      err.status === 401 &&
      this.native.passes(request.headers.authorization)
    ) {
      return this.open('native_token', clientIp);
    }
    // Credentials presented and refused: counted by address
    // (docs/architecture.md#a-requests-path, step 5), so that guessing, whatever the username,
    // meets a budget. A request without any is not.
    if (err instanceof DomainError && err.status === 401 && err.code !== 'authentication_required')
      return this.limiter.countRefused(clientIp).then(() => {
        throw err;
      });
    throw err;
  }

  /** Authorization (admin, scopes, groups), then the rate limit. */
  private authorized(
    input: JudgeInput,
    principal: Principal,
    refreshClaims: WardenClaims | undefined,
  ): MaybePromise<Decision> {
    const { method, policy } = input;
    return attempt(
      () => {
        if (policy.admin && !isAdmin(principal))
          throw Problems.forbidden('admin_required', 'This operation is for administrators');
        const needed = policy.admin ? 'admin' : READ_METHODS.has(method) ? 'read' : 'write';
        if (!hasScope(principal.scopes, needed))
          throw Problems.forbidden(
            'scope_insufficient',
            `The token's scopes do not include ${needed}`,
          );
        // Group rules are about the directory's users; a Connect tenant is judged by its own
        // state (installed, enabled by an administrator) instead.
        if (policy.api && principal.authMethod !== 'connect')
          this.restrictions.checkGroups(principal, method);
        return this.limiter.consume(rateKeyOf(principal));
      },
      (rateLimit): Decision => ({ principal, rateLimit, refreshClaims }),
      (err) => {
        // The audit names the caller a rule refused.
        denyingPrincipal(err, principal);
        throw err;
      },
    );
  }

  /** The address allow-list alone, for routes that judge their own credentials (sign-in). */
  checkAddress(clientIp: string): void {
    this.restrictions.checkAddress(clientIp);
  }

  private open(
    reason: 'public' | 'rest_api_authentication_disabled' | 'native_token',
    clientIp: string,
  ): MaybePromise<Decision> {
    return andThen(
      this.limiter.consume(`ip:${clientIp}`),
      (rateLimit): Decision => ({ principal: ANONYMOUS, rateLimit, openBecause: reason }),
    );
  }
}

/**
 * Whose budget a request spends (docs/architecture.md#a-requests-path, step 5): the credential's
 * (token id, session id, Connect clientKey), but an external caller's subject, not its token: an
 * IdP issues a new token at will, and each would otherwise come with a budget of its own. The same
 * holds for an upstream browser session (a new sign-in to the upstream, or any cookie of the
 * browser that changes, makes a new credential): it spends its user's budget.
 */
export function rateKeyOf(principal: Principal): string {
  switch (principal.authMethod) {
    case 'external':
    case 'session':
      return `${principal.authMethod}:${principal.id}`;
    default:
      return `${principal.authMethod}:${principal.credentialId}`;
  }
}

/** Basic credentials whose password is a password (not a personal API token), if any. */
export function passwordOf(header: string | string[] | undefined): { username: string } | null {
  // Only `Basic …` is parsed: a bearer token (the hot path) is not looked at twice.
  if (typeof header !== 'string' || (header.charCodeAt(0) | 32) !== 98) return null;
  const credential = parseAuthorization(header);
  return credential.scheme === 'basic' && apiTokenOf(credential) === null ? credential : null;
}

/** `write` covers reading too; `admin` is needed on its own for administration routes. */
export function hasScope(scopes: readonly string[], needed: 'read' | 'write' | 'admin'): boolean {
  return scopes.includes(needed) || (needed === 'read' && scopes.includes('write'));
}
