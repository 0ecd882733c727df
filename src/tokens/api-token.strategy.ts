import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import { apiTokenFrom } from '../common/credentials';
import { Problems } from '../common/problem/domain-error';
import type { StrategyRequest } from '../auth/strategies/strategy-runner';
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
export class ApiTokenStrategy extends PassportStrategy(Strategy, 'api-token') {
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
