import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { parseAuthorization } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { ExternalIdentity, ExternalJwtService } from '../external/external-jwt.service';

/**
 * `external`: `Authorization: Bearer <token>` from the configured identity provider — its key
 * or certificate, its JWK set, or its introspection endpoint (ExternalJwtService), algorithms
 * from the settings' allow-list only.
 */
@Injectable()
export class ExternalJwtStrategy extends PassportStrategy(Strategy, 'external') {
  constructor(private readonly external: ExternalJwtService) {
    super();
  }

  async validate(request: StrategyRequest): Promise<ExternalIdentity> {
    const credential = parseAuthorization(request.headers.authorization);
    if (credential.scheme !== 'bearer') throw new JwtError('malformed', 'Expected a bearer token');
    return this.external.verify(credential.token);
  }
}
