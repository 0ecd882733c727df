import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { parseAuthorization } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { WardenClaims, WardenTokens } from '../warden-tokens.service';

/**
 * `access`: `Authorization: Bearer <jwt>` (or the bare `<jwt>`) signed by Warden's key ring; `typ: at+jwt`, Warden's
 * issuer, the API audience, algorithm pinned by the key (WardenTokens.verify).
 */
@Injectable()
export class AccessTokenStrategy extends PassportStrategy(Strategy, 'access') {
  constructor(private readonly tokens: WardenTokens) {
    super();
  }

  async validate(request: StrategyRequest): Promise<WardenClaims> {
    const credential = parseAuthorization(request.headers.authorization);
    // The bare token too: BigPicture's clients send the value of `authentication` as it is.
    if (credential.scheme !== 'bearer' && credential.scheme !== 'bare')
      throw new JwtError('malformed', 'Expected a bearer token');
    return this.tokens.verify('access', credential.token);
  }
}
