import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { parseAuthorization } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { WardenClaims, WardenTokens } from '../warden-tokens.service';

/**
 * `refresh`: on /system/reauth only, as `Bearer <jwt>` or the bare token (BigPicture clients
 * send it without a scheme); `typ: refresh+jwt` and the reauth audience, so an access token
 * is never taken for one.
 */
@Injectable()
export class RefreshTokenStrategy extends PassportStrategy(Strategy, 'refresh') {
  constructor(private readonly tokens: WardenTokens) {
    super();
  }

  async validate(request: StrategyRequest): Promise<WardenClaims> {
    const credential = parseAuthorization(request.headers.authorization);
    if (credential.scheme !== 'bearer' && credential.scheme !== 'bare') {
      throw new JwtError('malformed', 'Expected a refresh token');
    }
    return this.tokens.verify('refresh', credential.token);
  }
}
