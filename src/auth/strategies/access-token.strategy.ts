import { Inject, Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import { bearerOrBareToken } from '../../common/credentials';
import { JWT_VERIFY_OPTIONS, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { WARDEN_ALGORITHMS, WardenClaims, WardenTokens } from '../warden-tokens.service';

/**
 * `access`: `Authorization: Bearer <jwt>`, or the bare `<jwt>` (BigPicture's clients send the
 * value of `authentication` as it is), signed by Warden's key ring; `typ: at+jwt`, Warden's
 * issuer, the API audience, the algorithm pinned by the key the `kid` names.
 */
@Injectable()
export class AccessTokenStrategy extends LocalPassportStrategy(JwtStrategy, 'access') {
  constructor(
    private readonly tokens: WardenTokens,
    @Inject(WARDEN_CONFIG) config: WardenConfig,
  ) {
    super({
      jwtFromRequest: bearerOrBareToken,
      secretOrKeyProvider: tokens.keyProviders.access,
      algorithms: WARDEN_ALGORITHMS,
      issuer: config.issuer,
      audience: config.baseUrl,
      ignoreExpiration: true,
      jsonWebTokenOptions: JWT_VERIFY_OPTIONS,
    });
  }

  validate(verified: VerifiedJwt): WardenClaims {
    return this.tokens.claimsOf('access', verified);
  }
}
