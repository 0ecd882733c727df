import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { parseAuthorization, PresentedCredential } from '../common/credentials';
import { JwtError } from '../common/jwt/jws';
import { Challenge, DomainError, Problems } from '../common/problem/domain-error';
import { CredentialKind, Principal } from '../common/principal';
import { CachedUser, toCached, UserCache } from './directory/user-cache';
import { UserEntity } from './directory/user.entity';
import { RevocationService } from './sessions/revocation.service';
import { StrategyRunner } from './strategies/strategy-runner';
import { UpstreamSessionClient } from './upstream-session.client';
import { WardenClaims } from './warden-tokens.service';

/** Bound on remembered verified tokens; an entry (digest, subject, session) is about 200 bytes. */
const MAX_VERIFIED_TOKENS = 100_000;

interface VerifiedAccess {
  sub: string;
  sid: string;
}

export interface Authenticated {
  principal: Principal;
  /** Set for refresh tokens: the verified claims the renewal works on. */
  refreshClaims?: WardenClaims;
}

/**
 * Picks the credential kind a request carries, runs that kind's strategy, and turns the result
 * into a Principal. A repeated access token costs one Map look-up: verified tokens are
 * remembered until they expire, and revocations are checked on every use.
 */
@Injectable()
export class AuthenticatorService {
  private readonly verified = new BoundedCache<string, VerifiedAccess>(MAX_VERIFIED_TOKENS);

  constructor(
    private readonly users: UserCache,
    private readonly revocations: RevocationService,
    private readonly upstream: UpstreamSessionClient,
    private readonly clock: Clock,
    private readonly strategies: StrategyRunner,
  ) {}

  async authenticate(
    request: FastifyRequest,
    kinds: readonly CredentialKind[],
  ): Promise<Authenticated> {
    const credential = parseAuthorization(request.headers.authorization);
    const kind = this.pickKind(credential, request, kinds);
    switch (kind) {
      case 'access':
        return { principal: await this.access(request, (credential as { token: string }).token) };
      case 'refresh': {
        const claims = await this.run<WardenClaims>('refresh', request, kinds);
        return {
          principal: await this.tokenPrincipal(claims.sub, claims.sid, 'refresh', kinds),
          refreshClaims: claims,
        };
      }
      case 'basic':
      case 'session': {
        const user = await this.run<UserEntity>(kind, request, kinds);
        return { principal: userPrincipal(toCached(user), kind, user.id) };
      }
      default:
        throw this.unauthenticated(credential, kinds);
    }
  }

  /** Forgets verified tokens of a session at once (logout on this instance). */
  forgetSession(sessionId: string): void {
    this.verified.deleteWhere((v) => v.sid === sessionId);
  }

  private pickKind(
    credential: PresentedCredential,
    request: FastifyRequest,
    kinds: readonly CredentialKind[],
  ): CredentialKind | null {
    switch (credential.scheme) {
      case 'bearer':
        if (kinds.includes('access')) return 'access';
        return kinds.includes('refresh') ? 'refresh' : null;
      case 'bare':
        return kinds.includes('refresh') ? 'refresh' : null;
      case 'basic':
        return kinds.includes('basic') ? 'basic' : null;
      case 'none':
        return kinds.includes('session') &&
          this.upstream.enabled &&
          typeof request.headers.cookie === 'string'
          ? 'session'
          : null;
      default:
        return null;
    }
  }

  private async access(request: FastifyRequest, token: string): Promise<Principal> {
    const now = this.clock.now();
    // Keyed by digest, not by the token: the cache then holds no bearer secrets, and a request's
    // header string dies young instead of being kept (and copied by the GC) for its lifetime.
    const key = createHash('sha256').update(token).digest('base64');
    let verified = this.verified.get(key, now);
    if (!verified) {
      const claims = await this.run<WardenClaims>('access', request, ['access']);
      verified = { sub: claims.sub, sid: claims.sid };
      this.verified.set(key, verified, claims.exp * 1000);
    }
    return this.tokenPrincipal(verified.sub, verified.sid, 'access', ['access']);
  }

  private async tokenPrincipal(
    userId: string,
    sessionId: string,
    kind: CredentialKind,
    kinds: readonly CredentialKind[],
  ): Promise<Principal> {
    if (this.revocations.isRevoked(sessionId)) throw invalidToken('The session has ended', kinds);
    const user = this.users.peek(userId) ?? (await this.users.get(userId));
    if (!user || user.disabled) throw invalidToken('The user can no longer sign in', kinds);
    return userPrincipal(user, kind, sessionId);
  }

  private async run<T>(
    kind: CredentialKind,
    request: FastifyRequest,
    kinds: readonly CredentialKind[],
  ): Promise<T> {
    try {
      return await this.strategies.run<T>(kind, request);
    } catch (err) {
      if (err instanceof JwtError) {
        throw invalidToken(
          err.reason === 'expired' ? `The ${kind} token has expired` : err.message,
          kinds,
          err.reason === 'expired' ? 'token_expired' : 'invalid_token',
        );
      }
      if (err instanceof DomainError) throw err;
      throw err;
    }
  }

  private unauthenticated(
    credential: PresentedCredential,
    kinds: readonly CredentialKind[],
  ): DomainError {
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
      default:
        return Problems.unauthorized(
          'This kind of credential is not accepted here',
          challenges(kinds, 'invalid_token', 'Credential kind not accepted here'),
          'credential_not_accepted',
        );
    }
  }
}

function userPrincipal(user: CachedUser, kind: CredentialKind, credentialId: string): Principal {
  return {
    id: user.id,
    username: user.username,
    groups: user.groups,
    authMethod: kind,
    credentialId,
    scopes: [],
  };
}

function challenges(
  kinds: readonly CredentialKind[],
  error?: Challenge['error'],
  description?: string,
): Challenge[] {
  const list: Challenge[] = [];
  if (kinds.some((k) => k === 'access' || k === 'refresh'))
    list.push({ scheme: 'Bearer', error, description });
  if (kinds.includes('basic') || kinds.includes('session')) list.push({ scheme: 'Basic' });
  return list;
}

function invalidToken(
  detail: string,
  kinds: readonly CredentialKind[],
  code = 'invalid_token',
): DomainError {
  return Problems.unauthorized(detail, challenges(kinds, 'invalid_token', detail), code);
}
