import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from '../../auth/strategies/strategy-runner';
import { parseAuthorization } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { Principal } from '../../common/principal';
import { CmjSpiJwtService } from '../cmj-spi-jwt.service';

/** `cmj-spi`: CMJ Cloud's Bearer JWT on the SPI routes (CmjSpiJwtService). */
@Injectable()
export class CmjSpiStrategy extends PassportStrategy(Strategy, 'cmj-spi') {
  constructor(private readonly cmj: CmjSpiJwtService) {
    super();
  }

  async validate(request: StrategyRequest): Promise<Principal> {
    const credential = parseAuthorization(request.headers.authorization);
    if (credential.scheme !== 'bearer') throw new JwtError('malformed', 'Expected a bearer token');
    const claims = await this.cmj.verify(credential.token, request.ip);
    const caller = claims.sub ?? claims.iss ?? 'cmj-cloud';
    return {
      id: `cmj:${caller}`,
      username: `cmj:${caller}`,
      groups: [],
      authMethod: 'cmj-spi',
      credentialId: claims.kid,
      scopes: ['read', 'write'],
    };
  }
}
