import { Injectable } from '@nestjs/common';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { Problems } from '../../common/problem/domain-error';
import { ALL_SCOPES } from '../../common/principal';
import { DirectoryService } from '../directory/directory.service';
import { CachedUser, toCached, UserCache } from '../directory/user-cache';
import {
  CredentialKindHandler,
  KindTools,
  PresentedRequest,
  Resolution,
  userPrincipal,
} from '../kinds/credential-kind';
import { SessionOwner, UpstreamSessionCache } from '../upstream-session.cache';
import { UpstreamSessionClient } from '../upstream-session.client';

/** A browser session at the decision endpoint reaches the upstream; Warden's administration never. */
const SESSION_SCOPES: readonly string[] = Object.freeze(['read', 'write']);

const invalidSession = (detail: string) =>
  Problems.unauthorized(detail, [{ scheme: 'Basic' }], 'invalid_session');

/** Who a session cookie belongs to: the user read at sign-in, or the remembered owner. */
export type SessionVerified = { signIn: CachedUser } | { owner: SessionOwner };

/**
 * `session`: the upstream product's session cookie (e.g. JSESSIONID), accepted only when
 * UPSTREAM_BASE_URL is set. The upstream says whose session it is; the local directory then
 * supplies groups (a first-time user is added without a password). /system/auth, which
 * exchanges the cookie for tokens that outlive it, asks afresh every time; the decision
 * endpoint, where a browser's every request carries the cookie, goes through
 * UpstreamSessionCache.
 */
@Injectable()
export class UpstreamSessionStrategy extends LocalPassportStrategy(Strategy, 'session') {
  constructor(
    private readonly upstream: UpstreamSessionClient,
    private readonly directory: DirectoryService,
    private readonly sessions: UpstreamSessionCache,
  ) {
    super();
  }

  async validate(request: StrategyRequest): Promise<SessionVerified> {
    const cookie = request.headers.cookie;
    if (typeof cookie !== 'string') throw invalidSession('The upstream session is not valid');
    if (!request.exchangesForTokens) {
      const owner = await this.sessions.lookup(cookie);
      if (owner === null) throw invalidSession('The upstream session is not valid');
      return { owner };
    }
    const username = await this.upstream.whoIs(cookie);
    if (!username) throw invalidSession('The upstream session is not valid');
    const user = await this.directory.findOrProvision(username);
    if (user.disabled) throw invalidSession('The user is disabled');
    return { signIn: toCached(user) };
  }
}

/** The `session` kind: a request with the upstream's cookie and no Authorization at all. */
@Injectable()
export class UpstreamSessionKind extends CredentialKindHandler<SessionVerified> {
  readonly kind = 'session';
  readonly challenge = 'Basic';
  readonly securityScheme = {
    name: 'upstreamSession',
    definition: {
      type: 'apiKey' as const,
      in: 'cookie',
      name: 'JSESSIONID',
      description: 'Upstream Jira / Confluence session (when UPSTREAM_BASE_URL is set)',
    },
  };

  constructor(
    readonly strategy: UpstreamSessionStrategy,
    private readonly upstream: UpstreamSessionClient,
    private readonly users: UserCache,
    private readonly sessions: UpstreamSessionCache,
  ) {
    super();
  }

  recognises({ presented, request, rules, settings }: PresentedRequest): boolean {
    if (
      presented.scheme !== 'none' ||
      !this.upstream.enabled ||
      typeof request.headers.cookie !== 'string'
    )
      return false;
    // Elsewhere than at sign-in (the decision endpoint) only when switched on, and only for a
    // request with no Authorization at all: one that carries any is judged by it alone.
    return (
      rules.login === true ||
      (settings.upstreamSessions.decision && request.headers.authorization === undefined)
    );
  }

  async resolve(
    verified: SessionVerified,
    _input: PresentedRequest,
    tools: KindTools,
  ): Promise<Resolution> {
    if ('signIn' in verified) {
      const user = verified.signIn;
      return { authenticated: { principal: userPrincipal(user, 'session', user.id, ALL_SCOPES) } };
    }
    // The session names its owner; the directory (through the user cache) says who that is now,
    // so a user disabled or regrouped since the upstream was asked is judged as they are.
    const { owner } = verified;
    const user = owner.user ?? (await this.users.get(owner.userId));
    if (user === null) {
      // Deleted since the upstream was asked: the next request asks again (and provisions anew).
      this.sessions.forget(owner.key);
      throw tools.unauthorized('The upstream session is not valid', 'invalid_session');
    }
    if (user.disabled) throw tools.unauthorized('The user is disabled', 'invalid_session');
    return {
      authenticated: {
        principal: userPrincipal(user, 'session', owner.credentialId, SESSION_SCOPES),
      },
    };
  }
}
