import { Injectable } from '@nestjs/common';
import { hash } from 'node:crypto';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { andThen, MaybePromise } from '../common/maybe-promise';
import { apiTokenOf, parseAuthorization, PresentedCredential } from '../common/credentials';
import { JwtError } from '../common/jwt/jws';
import { Challenge, DomainError, Problems } from '../common/problem/domain-error';
import type { ProblemCodeFor } from '../common/problem/problem-codes';
import type { StrategyName } from '../common/passport/local-strategy';
import { CredentialKind, Principal } from '../common/principal';
import { SettingsService } from '../settings/settings.service';
import { CachedUser, UserCache } from './directory/user-cache';
import {
  Authenticated,
  AuthenticationRules,
  AuthRequest,
  challengesOf,
  CredentialKindHandler,
  KindTools,
  PresentedRequest,
  Remembered,
  userPrincipal,
} from './kinds/credential-kind';
import { CredentialKinds } from './kinds/credential-kinds';
import { RevocationService } from './sessions/revocation.service';

export type { Authenticated, AuthenticationRules, AuthRequest } from './kinds/credential-kind';

/** Bound on remembered verified tokens; an entry (digest, subject, credential) is about 200 bytes. */
const MAX_REMEMBERED_TOKENS = 100_000;

/**
 * Authentication in one place: recognise the credential kind a request presents (the kinds are
 * asked in order of precedence), answer a bearer token verified before from memory, otherwise run
 * the kind's passport strategy, and map what it verified to a Principal.
 *
 * A repeated bearer token (access, API or IdP token) costs one hash and one Map look-up:
 * verified tokens are remembered until their kind says (expiry, the recheck horizon), revocations
 * are checked on every use, and users, groups and settings come from memory.
 */
@Injectable()
export class AuthenticatorService {
  private readonly remembered = new BoundedCache<string, Remembered>(MAX_REMEMBERED_TOKENS);

  constructor(
    private readonly kinds: CredentialKinds,
    private readonly users: UserCache,
    private readonly revocations: RevocationService,
    private readonly clock: Clock,
    private readonly settings: SettingsService,
  ) {
    // The settings decide what some tokens stand for (an IdP's mapping): forget those answers.
    settings.onChange(() => this.remembered.clear());
  }

  /**
   * A token verified before answers synchronously (MaybePromise): one hash, one Map look-up,
   * users and revocations from memory. Anything else continues asynchronously (verify).
   */
  authenticate(request: AuthRequest, rules: AuthenticationRules): MaybePromise<Authenticated> {
    const presented = parseAuthorization(request.headers.authorization);
    const input: PresentedRequest = { presented, request, rules, settings: this.settings.get() };
    const token = rememberedTokenOf(presented);
    // Keyed by digest, not by the token: the cache then holds no bearer secrets, and a request's
    // header string dies young instead of being kept (and copied by the GC) for its lifetime.
    const key = token === undefined ? undefined : hash('sha256', token, 'base64');
    if (key !== undefined) {
      const known = this.remembered.get(key, this.clock.now());
      const handler = known && this.kinds.get(known.kind);
      if (known && handler?.takenBy(rules.kinds) && handler.recognises(input, true)) {
        return andThen(this.principalOf(known, rules.kinds), (principal) => ({
          principal: this.used(handler, principal, input, known),
        }));
      }
    }
    const handler = this.kinds
      .all()
      .find((kind) => kind.takenBy(rules.kinds) && kind.recognises(input));
    if (!handler) throw this.unauthenticated(presented, rules);
    return this.verify(handler, input, key);
  }

  /** A credential not remembered: its kind's strategy verifies it, and its answer is kept. */
  private async verify(
    handler: CredentialKindHandler,
    input: PresentedRequest,
    key: string | undefined,
  ): Promise<Authenticated> {
    const { request, rules } = input;
    const strategy = (handler.strategyFor?.(input) ?? handler.kind) as StrategyName;
    const verified = await this.run(strategy, handler.kind, request, rules);
    const resolution = await handler.resolve(verified, input, this.toolsFor(rules.kinds));
    if ('authenticated' in resolution) {
      this.used(handler, resolution.authenticated.principal, input);
      return resolution.authenticated;
    }
    if (key !== undefined && resolution.keep !== false)
      this.remembered.set(key, resolution.remember, resolution.until);
    const principal = await this.principalOf(resolution.remember, rules.kinds);
    return { principal: this.used(handler, principal, input, resolution.remember) };
  }

  private used(
    handler: CredentialKindHandler,
    principal: Principal,
    input: PresentedRequest,
    remembered?: Remembered,
  ): Principal {
    // Most kinds check nothing on use: no tools are made for them on the hot path.
    if (handler.onUse)
      handler.onUse(principal, input, this.toolsFor(input.rules.kinds), remembered);
    return principal;
  }

  private toolsFor(kinds: readonly CredentialKind[]): KindTools {
    return {
      principalOf: (remembered) => this.principalOf(remembered, kinds),
      // A token refused names RFC 6750's invalid_token; anything else (a session) the bare challenges.
      unauthorized: (detail, code = 'invalid_token') =>
        Problems.unauthorized(
          detail,
          code === 'invalid_token'
            ? this.challenges(kinds, 'invalid_token', detail)
            : this.challenges(kinds),
          code,
        ),
    };
  }

  private principalOf(
    remembered: Remembered,
    kinds: readonly CredentialKind[],
  ): MaybePromise<Principal> {
    if (remembered.principal) return remembered.principal;
    if (this.revocations.isRevoked(remembered.credentialId)) {
      throw this.invalidToken(
        remembered.kind === 'api-token'
          ? 'The API token has been revoked'
          : 'The session has ended',
        kinds,
      );
    }
    const user = this.users.peek(remembered.userId);
    if (user !== undefined) return this.active(user, remembered, kinds);
    return this.users
      .get(remembered.userId)
      .then((loaded) => this.active(loaded, remembered, kinds));
  }

  private active(
    user: CachedUser | null,
    remembered: Remembered,
    kinds: readonly CredentialKind[],
  ): Principal {
    if (!user || user.disabled) throw this.invalidToken('The user can no longer sign in', kinds);
    return userPrincipal(user, remembered.kind, remembered.credentialId, remembered.scopes);
  }

  private async run<T>(
    strategy: StrategyName,
    kind: CredentialKind,
    request: AuthRequest,
    rules: AuthenticationRules,
  ): Promise<T> {
    try {
      return await this.kinds.run<T>(strategy, request, rules);
    } catch (err) {
      if (err instanceof JwtError) {
        const expired = err.reason === 'expired';
        throw this.invalidToken(
          expired ? `The ${kind} token has expired` : err.message,
          rules.kinds,
          expired ? 'token_expired' : 'invalid_token',
        );
      }
      // A strategy does not know the route: its 401 names the challenges of the route's kinds.
      // A 401's code is one of the 401 codes: DomainError takes a code only with its status.
      if (err instanceof DomainError && err.status === 401)
        throw this.toolsFor(rules.kinds).unauthorized(err.detail, err.code as ProblemCodeFor<401>);
      throw err;
    }
  }

  private unauthenticated(presented: PresentedCredential, rules: AuthenticationRules): DomainError {
    const { kinds } = rules;
    const settings = this.settings.get();
    switch (presented.scheme) {
      case 'none':
        return Problems.unauthorized(
          'Authentication is required',
          this.challenges(kinds),
          'authentication_required',
        );
      case 'malformed':
        return Problems.unauthorized(
          presented.reason,
          this.challenges(kinds, 'invalid_request', presented.reason),
          'invalid_credentials',
        );
      case 'basic':
        if (kinds.includes('basic') && !settings.basicAuth.enabled && !apiTokenOf(presented)) {
          return Problems.unauthorized(
            'Username and password are not accepted on API calls (basicAuth.enabled is off); use a token',
            this.challenges(kinds),
            'basic_auth_disabled',
          );
        }
        break;
    }
    if (apiTokenOf(presented) && kinds.includes('api-token') && !settings.apiTokens.enabled) {
      return Problems.unauthorized(
        'API tokens are switched off (apiTokens.enabled)',
        this.challenges(kinds),
        'api_tokens_disabled',
      );
    }
    return Problems.unauthorized(
      'This kind of credential is not accepted here',
      this.challenges(kinds, 'invalid_token', 'Credential kind not accepted here'),
      'credential_not_accepted',
    );
  }

  private challenges(
    kinds: readonly CredentialKind[],
    error?: Challenge['error'],
    description?: string,
  ): Challenge[] {
    return challengesOf(this.kinds.all(), kinds, error, description);
  }

  private invalidToken(
    detail: string,
    kinds: readonly CredentialKind[],
    code: ProblemCodeFor<401> = 'invalid_token',
  ): DomainError {
    return Problems.unauthorized(detail, this.challenges(kinds, 'invalid_token', detail), code);
  }
}

/**
 * The token a bearer kind's verification is remembered by: the Bearer token, the bare token,
 * the `APIToken` value, or an API token sent as the Basic password.
 */
function rememberedTokenOf(presented: PresentedCredential): string | undefined {
  switch (presented.scheme) {
    case 'bearer':
    case 'bare':
    case 'apitoken':
      return presented.token;
    case 'basic':
      return apiTokenOf(presented)?.token;
    default:
      return undefined;
  }
}
