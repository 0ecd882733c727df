import { Injectable } from '@nestjs/common';
import { Strategy } from 'passport-custom';
import { apiTokenFrom, apiTokenOf } from '../common/credentials';
import { Problems } from '../common/problem/domain-error';
import type { StrategyRequest } from '../auth/strategies/strategy-runner';
import {
  CredentialKindHandler,
  KindTools,
  PresentedRequest,
  Resolution,
} from '../auth/kinds/credential-kind';
import { CREDENTIAL_RECHECK_MS } from '../auth/sessions/revocation.service';
import { LocalPassportStrategy } from '../common/passport/local-strategy';
import { Principal } from '../common/principal';
import { Clock } from '../common/clock';
import { ApiTokenEntity } from './api-token.entity';
import { hashApiToken, isWellFormedApiToken } from './api-token-format';
import { TokensService } from './tokens.service';

const invalid = (detail: string) =>
  Problems.unauthorized(
    detail,
    [{ scheme: 'Bearer', error: 'invalid_token', description: detail }, { scheme: 'Basic' }],
    'invalid_token',
  );

/**
 * `api-token`: `Bearer wdn_…`, `APIToken wdn_…` or Basic `username:wdn_…`. The checksum is
 * checked before any look-up, so a mistyped or invented token never reaches the database; then
 * the SHA-256 is looked up and the token must be live.
 */
@Injectable()
export class ApiTokenStrategy extends LocalPassportStrategy(Strategy, 'api-token') {
  constructor(
    private readonly tokens: TokensService,
    private readonly clock: Clock,
  ) {
    super();
  }

  async validate(request: StrategyRequest): Promise<ApiTokenEntity> {
    const presented = apiTokenFrom(request.headers.authorization);
    if (!presented || !isWellFormedApiToken(presented.token))
      throw invalid('The API token is not valid');
    const token = await this.tokens.findByHash(hashApiToken(presented.token));
    if (!token || token.revokedAt) throw invalid('The API token is not valid');
    if (token.expiresAt.getTime() <= this.clock.now()) throw invalid('The API token has expired');
    return token;
  }
}

/**
 * The `api-token` kind: a `wdn_` token however it is sent (`Bearer`, `APIToken`, or as the Basic
 * password, which works even where passwords are refused). Remembered until it expires or, at
 * most, the recheck horizon, so that a revocation seen only in storage still ends it in time.
 */
@Injectable()
export class ApiTokenKind extends CredentialKindHandler<ApiTokenEntity> {
  readonly kind = 'api-token';
  readonly challenge = 'Bearer';
  readonly securityScheme = {
    name: 'apiToken',
    definition: {
      type: 'apiKey' as const,
      in: 'header',
      name: 'Authorization',
      description: 'Personal API token: "Bearer wdn_…" or "APIToken wdn_…"',
    },
  };

  constructor(
    readonly strategy: ApiTokenStrategy,
    private readonly tokens: TokensService,
    private readonly clock: Clock,
  ) {
    super();
  }

  recognises({ presented, settings }: PresentedRequest): boolean {
    return settings.apiTokens.enabled && apiTokenOf(presented) !== null;
  }

  resolve(token: ApiTokenEntity): Resolution {
    return {
      remember: {
        kind: 'api-token',
        userId: token.userId,
        credentialId: token.id,
        scopes: token.scopes.split(','),
      },
      until: Math.min(token.expiresAt.getTime(), this.clock.now() + CREDENTIAL_RECHECK_MS),
    };
  }

  /** Basic `username:wdn_…`: the token must belong to the user named. Its use is recorded. */
  override onUse(
    principal: Principal,
    { presented, request }: PresentedRequest,
    tools: KindTools,
  ): void {
    const username = apiTokenOf(presented)?.username;
    if (username !== undefined && username.toLowerCase() !== principal.username.toLowerCase())
      throw tools.unauthorized('The API token does not belong to this user');
    this.tokens.recordUse(principal.credentialId, request.ip);
  }
}
