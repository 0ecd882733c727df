import { Injectable } from '@nestjs/common';
import type { StrategyRequest } from './strategies/strategy-runner';

/** What authentication reads of a request: headers, client address, the target being judged. */
export type AuthRequest = StrategyRequest;
import { hash } from 'node:crypto';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import {
  API_TOKEN_MARK,
  apiTokenOf,
  connectTokenOf,
  parseAuthorization,
  PresentedCredential,
} from '../common/credentials';
import { JwtError } from '../common/jwt/jws';
import { Challenge, DomainError, Problems } from '../common/problem/domain-error';
import { ADMIN_GROUP, ALL_SCOPES, CredentialKind, Principal } from '../common/principal';
import { SettingsService } from '../restrictions/settings.service';
import { CachedUser, toCached, UserCache } from './directory/user-cache';
import { UserEntity } from './directory/user.entity';
import { CREDENTIAL_RECHECK_MS, RevocationService } from './sessions/revocation.service';
import { StrategyRunner } from './strategies/strategy-runner';
import { UpstreamSessionCache, SessionOwner } from './upstream-session.cache';
import { UpstreamSessionClient } from './upstream-session.client';
import { WardenClaims } from './warden-tokens.service';
import {
  adminMappingRefused,
  ExternalIdentity,
  ExternalJwtService,
  ExternalStrategyName,
} from './external/external-jwt.service';
import type { StrategyName } from '../common/passport/local-strategy';
import { denyingPrincipal } from '../restrictions/access-audit';

/** Bound on remembered verified tokens; an entry (digest, subject, credential) is about 200 bytes. */
const MAX_VERIFIED_TOKENS = 100_000;

/** What a verified credential stands for (bearer ones are remembered until they expire). */
interface Verified {
  kind: 'access' | 'api-token' | 'refresh' | 'external';
  /** Empty for an external caller with no local user: `principal` is then the whole answer. */
  userId: string;
  /** Session id for access tokens, token id for API tokens: what revocation names. */
  credentialId: string;
  scopes: readonly string[];
  principal?: Principal;
  /** The identity provider that judged an external token (its settings say whether an admin may be named). */
  provider?: string;
}

/** Scopes of an external caller not mapped to a local user: it may read and write, not administer. */
const EXTERNAL_SCOPES: readonly string[] = Object.freeze(['read', 'write']);

/** A browser session at the decision endpoint reaches the upstream; Warden's administration never. */
const SESSION_SCOPES: readonly string[] = Object.freeze(['read', 'write']);

/** The stored record an API token strategy resolves to (the tokens module owns the entity). */
export interface ApiTokenRecord {
  id: string;
  userId: string;
  scopes: string;
  expiresAt: Date;
}

export interface Authenticated {
  principal: Principal;
  /** Set for refresh tokens: the verified claims the renewal works on. */
  refreshClaims?: WardenClaims;
}

export interface AuthenticationRules {
  kinds: readonly CredentialKind[];
  /** A route whose job is to exchange a password for tokens takes one even when basicAuth is off. */
  login?: boolean;
  /** The route takes Connect context tokens (`qsh: context-qsh`). */
  connectContext?: boolean;
}

/**
 * Picks the credential kind a request carries, runs that kind's strategy, and turns the result
 * into a Principal. A repeated bearer token (access or API token) costs one hash and one Map
 * look-up: verified tokens are remembered until they expire, revocations are checked on every
 * use, and users, groups and settings come from memory.
 */
@Injectable()
export class AuthenticatorService {
  private readonly verified = new BoundedCache<string, Verified>(MAX_VERIFIED_TOKENS);
  private apiTokenUse: (tokenId: string, ip: string) => void = () => undefined;

  constructor(
    private readonly users: UserCache,
    private readonly revocations: RevocationService,
    private readonly upstream: UpstreamSessionClient,
    private readonly clock: Clock,
    private readonly strategies: StrategyRunner,
    private readonly settings: SettingsService,
    private readonly external: ExternalJwtService,
    private readonly sessions: UpstreamSessionCache,
  ) {
    // The IdP's settings decide what an external token stands for: forget those answers.
    settings.onChange(() => this.verified.clear());
  }

  /** The tokens module is told of every API token use (it records last use, at most once a minute). */
  onApiTokenUse(listener: (tokenId: string, ip: string) => void): void {
    this.apiTokenUse = listener;
  }

  async authenticate(request: AuthRequest, rules: AuthenticationRules): Promise<Authenticated> {
    const { kinds } = rules;
    const credential = parseAuthorization(request.headers.authorization);
    const kind = this.pickKind(credential, request, rules);
    switch (kind) {
      case 'access': {
        // A remembered token comes back as a value: awaiting only promises saves a microtask turn.
        const found = this.bearer(
          request,
          'access',
          (credential as { token: string }).token,
          kinds,
          credential.scheme === 'bare',
        );
        return { principal: found instanceof Promise ? await found : found };
      }
      case 'api-token': {
        const presented = apiTokenOf(credential)!;
        const found = this.bearer(request, 'api-token', presented.token, kinds);
        const principal = found instanceof Promise ? await found : found;
        // Basic `username:wdn_…`: the token must belong to the user named.
        if (
          presented.username !== undefined &&
          presented.username.toLowerCase() !== principal.username.toLowerCase()
        ) {
          throw invalidToken('The API token does not belong to this user', kinds);
        }
        this.apiTokenUse(principal.credentialId, request.ip);
        return { principal };
      }
      case 'refresh': {
        const claims = await this.run<WardenClaims>('refresh', request, kinds);
        return {
          principal: await this.principalFor(
            { kind: 'refresh', userId: claims.sub, credentialId: claims.sid, scopes: ALL_SCOPES },
            kinds,
          ),
          refreshClaims: claims,
        };
      }
      case 'session':
        if (!rules.login) {
          // The decision endpoint: a browser's every request carries the cookie, so the
          // upstream's answer is remembered (UpstreamSessionCache).
          const found = this.browserSession(request.headers.cookie as string, kinds);
          return { principal: found instanceof Promise ? await found : found };
        }
        // /system/auth exchanges the cookie for a token pair that outlives it: the upstream is
        // asked afresh every time, so a session ended there a moment ago mints nothing.
        return this.signIn(kind, request, kinds);
      case 'basic':
        return this.signIn(kind, request, kinds);
      case 'cmj-spi':
        return { principal: await this.run<Principal>(kind, request, kinds) };
      case 'connect':
      case 'connect-install': {
        // Bound to the request (qsh) and fresh on every call: nothing to remember.
        const view = rules.connectContext ? { ...request, connectContext: true } : request;
        return { principal: await this.run<Principal>(kind, view, kinds) };
      }
      default:
        throw this.unauthenticated(credential, rules);
    }
  }

  private pickKind(
    credential: PresentedCredential,
    request: AuthRequest,
    rules: AuthenticationRules,
  ): CredentialKind | null {
    const { kinds } = rules;
    const settings = this.settings.get();
    const apiTokens = kinds.includes('api-token') && settings.apiTokens.enabled;
    switch (credential.scheme) {
      case 'jwt':
        if (kinds.includes('connect')) return 'connect';
        return kinds.includes('connect-install') ? 'connect-install' : null;
      case 'bearer':
        // CMJ's SPI routes take its JWT and nothing else; no other route takes it.
        if (kinds.includes('cmj-spi')) return 'cmj-spi';
        if (apiTokenOf(credential)) return apiTokens ? 'api-token' : null;
        if (kinds.includes('access')) return 'access';
        return kinds.includes('refresh') ? 'refresh' : null;
      case 'apitoken':
        return apiTokens ? 'api-token' : null;
      case 'bare':
        // BigPicture's clients put the bare value of `authentication` in the header: it is an
        // access token wherever one is taken; only /system/reauth takes a bare refresh token.
        // A personal API token always names its scheme.
        if (credential.token.startsWith(API_TOKEN_MARK)) return null;
        if (kinds.includes('access')) return 'access';
        return kinds.includes('refresh') ? 'refresh' : null;
      case 'basic':
        // Basic with an API token as the password works even where passwords are refused.
        if (apiTokenOf(credential)) return apiTokens ? 'api-token' : null;
        if (!kinds.includes('basic')) return null;
        return settings.basicAuth.enabled || rules.login ? 'basic' : null;
      case 'none':
        if (kinds.includes('connect') && connectTokenOf(credential, request.target?.url) !== null)
          return 'connect';
        if (
          !kinds.includes('session') ||
          !this.upstream.enabled ||
          typeof request.headers.cookie !== 'string'
        )
          return null;
        // Elsewhere than at sign-in (the decision endpoint) only when switched on, and only for a
        // request with no Authorization at all: one that carries any is judged by it alone.
        return rules.login ||
          (settings.upstreamSessions.decision && request.headers.authorization === undefined)
          ? 'session'
          : null;
      default:
        return null;
    }
  }

  /**
   * A remembered token answers synchronously (no promise, no microtask): digest, Map look-up,
   * revocation and user from memory. Only a token not seen before goes to its strategy.
   */
  private bearer(
    request: AuthRequest,
    kind: 'access' | 'api-token',
    token: string,
    kinds: readonly CredentialKind[],
    bare = false,
  ): Principal | Promise<Principal> {
    const now = this.clock.now();
    // Keyed by digest, not by the token: the cache then holds no bearer secrets, and a request's
    // header string dies young instead of being kept (and copied by the GC) for its lifetime.
    const key = hash('sha256', token, 'base64');
    const verified = this.verified.get(key, now);
    if (
      verified &&
      (verified.kind === kind ||
        (kind === 'access' && !bare && verified.kind === 'external' && this.external.enabled))
    )
      return this.principalFor(verified, kinds);
    // Only Warden's own access token goes without a scheme; an IdP's token is a Bearer token.
    const external = kind === 'access' && !bare ? this.external.claims(token) : null;
    if (external) return this.verifyExternal(request, key, kinds, external);
    return this.verifyAndRemember(request, kind, key, now, kinds);
  }

  private async verifyAndRemember(
    request: AuthRequest,
    kind: 'access' | 'api-token',
    key: string,
    now: number,
    kinds: readonly CredentialKind[],
  ): Promise<Principal> {
    let verified: Verified;
    if (kind === 'access') {
      const claims = await this.run<WardenClaims>('access', request, kinds);
      verified = { kind, userId: claims.sub, credentialId: claims.sid, scopes: ALL_SCOPES };
      this.verified.set(key, verified, claims.exp * 1000);
    } else {
      const record = await this.run<ApiTokenRecord>('api-token', request, kinds);
      verified = {
        kind,
        userId: record.userId,
        credentialId: record.id,
        scopes: record.scopes.split(','),
      };
      // Re-read from storage now and then, so that nothing outlives the revocation horizon.
      this.verified.set(
        key,
        verified,
        Math.min(record.expiresAt.getTime(), now + CREDENTIAL_RECHECK_MS),
      );
    }
    return this.principalFor(verified, kinds);
  }

  /** A token of the configured IdP: verified (or introspected), mapped, remembered until trusted no more. */
  private async verifyExternal(
    request: AuthRequest,
    key: string,
    kinds: readonly CredentialKind[],
    strategy: ExternalStrategyName,
  ): Promise<Principal> {
    const generation = this.external.generation;
    const identity = await this.run<ExternalIdentity>(strategy, request, kinds);
    const verified: Verified = identity.localUserId
      ? {
          kind: 'external',
          userId: identity.localUserId,
          credentialId: identity.credentialId,
          // Local groups apply, administration does not: a name match is not a sign-in.
          scopes: EXTERNAL_SCOPES,
          provider: identity.provider,
        }
      : {
          kind: 'external',
          userId: '',
          credentialId: identity.credentialId,
          scopes: EXTERNAL_SCOPES,
          principal: {
            id: `external:${identity.issuer ?? ''}:${identity.subject ?? identity.username}`,
            username: identity.username,
            groups: identity.groups,
            authMethod: 'external',
            credentialId: identity.credentialId,
            scopes: EXTERNAL_SCOPES as string[],
            ...(identity.invocation
              ? { tenant: identity.invocation.installation, invocation: identity.invocation }
              : {}),
          },
        };
    // Settings changed while the IdP was asked (a slow JWKS or introspection call): answer this
    // request, but do not remember what older settings made of the token.
    if (generation === this.external.generation)
      this.verified.set(key, verified, identity.trustUntil);
    return this.principalFor(verified, kinds);
  }

  private principalFor(
    verified: Verified,
    kinds: readonly CredentialKind[],
  ): Principal | Promise<Principal> {
    if (verified.principal) return verified.principal;
    if (this.revocations.isRevoked(verified.credentialId)) {
      throw invalidToken(
        verified.kind === 'api-token' ? 'The API token has been revoked' : 'The session has ended',
        kinds,
      );
    }
    const user = this.users.peek(verified.userId);
    if (user !== undefined) return this.checked(activePrincipal(user, verified, kinds), verified);
    return this.users
      .get(verified.userId)
      .then((loaded) => this.checked(activePrincipal(loaded, verified, kinds), verified));
  }

  /**
   * An IdP token mapped to a local user who is (or has since become) an administrator is refused
   * unless its provider's allowAdminMapping: checked on every use, not only when first mapped.
   */
  private checked(principal: Principal, verified: Verified): Principal {
    if (
      verified.kind === 'external' &&
      principal.groups.includes(ADMIN_GROUP) &&
      !this.external.allowsAdminMapping(verified.provider)
    ) {
      const refused = adminMappingRefused(verified.provider ?? '');
      // The audit row names the administrator the token would have been.
      denyingPrincipal(refused, principal);
      throw refused;
    }
    return principal;
  }

  private async signIn(
    kind: 'basic' | 'session',
    request: AuthRequest,
    kinds: readonly CredentialKind[],
  ): Promise<Authenticated> {
    const user = await this.run<UserEntity>(kind, request, kinds);
    return { principal: userPrincipal(toCached(user), kind, user.id, ALL_SCOPES) };
  }

  /**
   * A remembered cookie answers synchronously: digest, Map look-up, user from memory. The
   * session names its owner; the directory (through the user cache) says who that is now, so a
   * user disabled or regrouped since the upstream was asked is judged as they are.
   */
  private browserSession(
    cookie: string,
    kinds: readonly CredentialKind[],
  ): Principal | Promise<Principal> {
    const found = this.sessions.lookup(cookie);
    return found instanceof Promise
      ? found.then((owner) => this.sessionPrincipal(owner, kinds))
      : this.sessionPrincipal(found, kinds);
  }

  private sessionPrincipal(
    owner: SessionOwner | null,
    kinds: readonly CredentialKind[],
  ): Principal | Promise<Principal> {
    if (owner === null) throw invalidSession('The upstream session is not valid', kinds);
    const user = owner.user ?? this.users.peek(owner.userId);
    if (user !== undefined) return this.sessionUser(user, owner, kinds);
    return this.users.get(owner.userId).then((loaded) => this.sessionUser(loaded, owner, kinds));
  }

  private sessionUser(
    user: CachedUser | null,
    owner: SessionOwner,
    kinds: readonly CredentialKind[],
  ): Principal {
    if (user === null) {
      // Deleted since the upstream was asked: the next request asks again (and provisions anew).
      this.sessions.forget(owner.key);
      throw invalidSession('The upstream session is not valid', kinds);
    }
    if (user.disabled) throw invalidSession('The user is disabled', kinds);
    return userPrincipal(user, 'session', owner.credentialId, SESSION_SCOPES);
  }

  private async run<T>(
    kind: StrategyName,
    request: AuthRequest,
    kinds: readonly CredentialKind[],
  ): Promise<T> {
    try {
      return await this.strategies.run<T>(kind, request);
    } catch (err) {
      if (err instanceof JwtError) {
        const expired = err.reason === 'expired';
        throw invalidToken(
          expired ? `The ${kind} token has expired` : err.message,
          kinds,
          expired ? 'token_expired' : 'invalid_token',
        );
      }
      throw err;
    }
  }

  private unauthenticated(
    credential: PresentedCredential,
    rules: AuthenticationRules,
  ): DomainError {
    const { kinds } = rules;
    const settings = this.settings.get();
    switch (credential.scheme) {
      case 'none':
        return Problems.unauthorized(
          'Authentication is required',
          challenges(kinds),
          'authentication_required',
        );
      case 'malformed':
        return Problems.unauthorized(
          credential.reason,
          challenges(kinds, 'invalid_request', credential.reason),
          'invalid_credentials',
        );
      case 'basic':
        if (kinds.includes('basic') && !settings.basicAuth.enabled) {
          return Problems.unauthorized(
            'Username and password are not accepted on API calls (basicAuth.enabled is off); use a token',
            challenges(kinds),
            'basic_auth_disabled',
          );
        }
        break;
    }
    if (apiTokenOf(credential) && kinds.includes('api-token') && !settings.apiTokens.enabled) {
      return Problems.unauthorized(
        'API tokens are switched off (apiTokens.enabled)',
        challenges(kinds),
        'api_tokens_disabled',
      );
    }
    return Problems.unauthorized(
      'This kind of credential is not accepted here',
      challenges(kinds, 'invalid_token', 'Credential kind not accepted here'),
      'credential_not_accepted',
    );
  }
}

function activePrincipal(
  user: CachedUser | null,
  verified: Verified,
  kinds: readonly CredentialKind[],
): Principal {
  if (!user || user.disabled) throw invalidToken('The user can no longer sign in', kinds);
  return userPrincipal(user, verified.kind, verified.credentialId, verified.scopes);
}

function userPrincipal(
  user: CachedUser,
  kind: CredentialKind,
  credentialId: string,
  scopes: readonly string[],
): Principal {
  return {
    id: user.id,
    username: user.username,
    groups: user.groups,
    authMethod: kind,
    credentialId,
    scopes: scopes as string[],
  };
}

function challenges(
  kinds: readonly CredentialKind[],
  error?: Challenge['error'],
  description?: string,
): Challenge[] {
  const list: Challenge[] = [];
  if (kinds.some((k) => k === 'access' || k === 'refresh' || k === 'api-token' || k === 'cmj-spi'))
    list.push({ scheme: 'Bearer', error, description });
  if (kinds.includes('basic') || kinds.includes('session')) list.push({ scheme: 'Basic' });
  if (kinds.includes('connect') || kinds.includes('connect-install'))
    list.push({ scheme: 'JWT', error, description });
  return list;
}

function invalidSession(detail: string, kinds: readonly CredentialKind[]): DomainError {
  return Problems.unauthorized(detail, challenges(kinds), 'invalid_session');
}

function invalidToken(
  detail: string,
  kinds: readonly CredentialKind[],
  code = 'invalid_token',
): DomainError {
  return Problems.unauthorized(detail, challenges(kinds, 'invalid_token', detail), code);
}
