import { Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import type { StrategyRequest } from './strategy-runner';
import { bearerToken } from '../../common/credentials';
import { EXTERNAL_ALGORITHMS } from '../../common/jwt/external-algorithms';
import { JWT_VERIFY_OPTIONS, keyProvider, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { ExternalIdentity, ExternalJwtService } from '../external/external-jwt.service';

/**
 * `external`: `Authorization: Bearer <jwt>` from one of the configured identity providers, one
 * strategy for all of them. The key provider picks the provider the token's `iss` names, allows
 * only that provider's algorithms and takes the key from its PEM key or certificate or JWK set
 * (jwks-rsa); jsonwebtoken verifies the signature, its own allow-list being every algorithm a
 * provider may use (RS*, PS*, ES*). Issuer and audience differ per provider, so `validate()`
 * judges them with the other claims before mapping the caller.
 */
@Injectable()
export class ExternalJwtStrategy extends LocalPassportStrategy(JwtStrategy, 'external') {
  constructor(private readonly external: ExternalJwtService) {
    super({
      jwtFromRequest: bearerToken,
      secretOrKeyProvider: keyProvider((decoded) => external.keyFor(decoded)),
      algorithms: [...EXTERNAL_ALGORITHMS],
      ignoreExpiration: true,
      passReqToCallback: true,
      jsonWebTokenOptions: JWT_VERIFY_OPTIONS,
    });
  }

  validate(request: StrategyRequest, { payload }: VerifiedJwt): Promise<ExternalIdentity> {
    return this.external.verified(bearerToken(request) ?? '', payload);
  }
}
