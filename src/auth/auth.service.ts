import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditSink } from '../audit/audit.port';
import { Clock } from '../common/clock';
import { SecretBox } from '../common/crypto/secret-box';
import { Problems } from '../common/problem/domain-error';
import { CredentialKind } from '../common/principal';
import { RequestMeta } from '../common/request-meta';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { UserCache } from './directory/user-cache';
import { RefreshSessionEntity } from './sessions/refresh-session.entity';
import { SessionsRepository } from './sessions/sessions.repository';
import { SessionsService } from './sessions/sessions.service';
import { SettingsService } from '../settings/settings.service';
import { hashJti, WardenClaims, WardenTokens } from './warden-tokens.service';

/** BigPicture's response shape: `refresh` is absent when a reauth does not rotate. */
export interface TokenPair {
  authentication: string;
  refresh?: string;
}

export interface LoginSubject {
  id: string;
  username: string;
}

const invalidRefresh = (detail: string) =>
  Problems.unauthorized(
    detail,
    [{ scheme: 'Bearer', error: 'invalid_token', description: detail }],
    'invalid_refresh_token',
  );

/**
 * The token pair: login opens a refresh session (a token family), reauth rotates it.
 * Rotation is single-use with compare-and-set; a retry inside the grace window gets the same
 * successor; anything older is a reuse and ends the whole family (RFC 9700 §4.14.2).
 */
@Injectable()
export class AuthService {
  private readonly box: SecretBox;

  constructor(
    private readonly tokens: WardenTokens,
    private readonly sessions: SessionsRepository,
    private readonly sessionService: SessionsService,
    private readonly users: UserCache,
    private readonly settings: SettingsService,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) config: WardenConfig,
  ) {
    this.box = new SecretBox(config.encryptionKey.key);
  }

  async login(user: LoginSubject, method: CredentialKind, meta: RequestMeta): Promise<TokenPair> {
    const { accessTtlSeconds, refreshTtlSeconds } = this.settings.get().tokens;
    const sessionId = randomUUID();
    const now = this.clock.now();
    const refresh = this.tokens.issue('refresh', user.id, sessionId, refreshTtlSeconds, now);
    const access = this.tokens.issue('access', user.id, sessionId, accessTtlSeconds, now);
    const at = new Date(now);
    await this.sessions.insert(
      Object.assign(new RefreshSessionEntity(), {
        id: sessionId,
        userId: user.id,
        authMethod: method,
        generation: 1,
        currentJtiHash: hashJti(refresh.claims.jti),
        previousJtiHash: null,
        rotatedAt: null,
        successorSealed: null,
        createdAt: at,
        lastUsedAt: at,
        expiresAt: new Date(refresh.claims.exp * 1000),
        ip: meta.ip,
        userAgent: meta.userAgent,
        revokedAt: null,
        revokedReason: null,
      }),
    );
    this.record('auth.login.succeeded', user.username, method, sessionId, meta);
    return { authentication: access.token, refresh: refresh.token };
  }

  async reauth(claims: WardenClaims, meta: RequestMeta): Promise<TokenPair> {
    let session = await this.sessions.findById(claims.sid);
    if (!session || session.userId !== claims.sub)
      throw invalidRefresh('The refresh token belongs to no session');
    if (session.revokedAt) throw invalidRefresh('The session has ended; log in again');
    const user = await this.users.get(claims.sub);
    if (!user || user.disabled) throw invalidRefresh('The user can no longer log in');

    const policy = this.settings.get().tokens;
    const presented = hashJti(claims.jti);
    const now = this.clock.now();

    if (presented === session.currentJtiHash) {
      if (!policy.rotateRefreshTokens) {
        await this.sessions.touch(session.id, new Date(now), meta.ip, meta.userAgent);
        this.record('auth.refreshed', user.username, 'refresh', session.id, meta);
        return {
          authentication: this.tokens.issue(
            'access',
            user.id,
            session.id,
            policy.accessTtlSeconds,
            now,
          ).token,
        };
      }
      const refresh = this.tokens.issue(
        'refresh',
        user.id,
        session.id,
        policy.refreshTtlSeconds,
        now,
      );
      const pair: TokenPair = {
        authentication: this.tokens.issue(
          'access',
          user.id,
          session.id,
          policy.accessTtlSeconds,
          now,
        ).token,
        refresh: refresh.token,
      };
      const won = await this.sessions.rotate(session.id, presented, {
        newJtiHash: hashJti(refresh.claims.jti),
        successorSealed: this.box.seal(
          JSON.stringify(pair),
          successorContext(session.id, presented),
        ),
        at: new Date(now),
        expiresAt: new Date(refresh.claims.exp * 1000),
        ip: meta.ip,
        userAgent: meta.userAgent,
      });
      if (won) {
        this.record('auth.refreshed', user.username, 'refresh', session.id, meta);
        return pair;
      }
      // Another request rotated this very token a moment ago: answer as its retry.
      session = await this.sessions.findById(session.id);
      if (!session) throw invalidRefresh('The refresh token belongs to no session');
    }

    const successor = this.graceSuccessor(session, presented, policy.reuseGraceSeconds, now);
    if (successor) {
      this.record('auth.refreshed', user.username, 'refresh', session.id, meta, { retry: true });
      return successor;
    }

    await this.sessionService.revoke(session.id, 'refresh_reuse');
    this.audit.record({
      event: 'auth.refresh_reuse_detected',
      outcome: 'denied',
      actor: user.username,
      authMethod: 'refresh',
      credentialId: session.id,
      ip: meta.ip,
      userAgent: meta.userAgent,
      requestId: meta.requestId,
      method: meta.method,
      path: meta.path,
      reason: 'refresh_reuse',
    });
    throw invalidRefresh('The refresh token was already used; the session has been ended');
  }

  recordLoginFailure(
    username: string | null,
    method: CredentialKind,
    meta: RequestMeta,
    reason = 'invalid_credentials',
  ): void {
    this.audit.record({
      event: 'auth.login.failed',
      outcome: 'failure',
      actor: username,
      authMethod: method,
      ip: meta.ip,
      userAgent: meta.userAgent,
      requestId: meta.requestId,
      method: meta.method,
      path: meta.path,
      status: 401,
      reason,
    });
  }

  async logout(username: string, sessionId: string | undefined, meta: RequestMeta): Promise<void> {
    if (sessionId) await this.sessionService.revoke(sessionId, 'logout');
    this.record('auth.logout', username, 'access', sessionId ?? null, meta);
  }

  private graceSuccessor(
    session: RefreshSessionEntity,
    presented: string,
    graceSeconds: number,
    now: number,
  ): TokenPair | null {
    if (
      session.revokedAt ||
      session.previousJtiHash !== presented ||
      !session.rotatedAt ||
      !session.successorSealed
    )
      return null;
    if (now - session.rotatedAt.getTime() > graceSeconds * 1000) return null;
    try {
      return JSON.parse(
        this.box.openText(session.successorSealed, successorContext(session.id, presented)),
      ) as TokenPair;
    } catch {
      return null;
    }
  }

  private record(
    event: string,
    actor: string,
    method: CredentialKind,
    sessionId: string | null,
    meta: RequestMeta,
    details?: Record<string, unknown>,
  ): void {
    this.audit.record({
      event,
      outcome: 'success',
      actor,
      authMethod: method,
      credentialId: sessionId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      requestId: meta.requestId,
      method: meta.method,
      path: meta.path,
      details,
    });
  }
}

/** Binds a sealed successor to its session and predecessor, so it cannot be replayed elsewhere. */
function successorContext(sessionId: string, predecessorHash: string): string {
  return `successor:${sessionId}:${predecessorHash}`;
}
