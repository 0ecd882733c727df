import { Inject, Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import { bearerOrBareToken } from '../../common/credentials';
import { JWT_VERIFY_OPTIONS, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { WARDEN_ALGORITHMS, WardenClaims, WardenTokens } from '../warden-tokens.service';

/**
 * `refresh`: on /system/reauth only, as `Bearer <jwt>` or the bare token (BigPicture's clients
 * send it without a scheme); `typ: refresh+jwt` and the reauth audience, so an access token is
 * never taken for one.
 */
@Injectable()
export class RefreshTokenStrategy extends LocalPassportStrategy(JwtStrategy, 'refresh') {
  constructor(
    private readonly tokens: WardenTokens,
    @Inject(WARDEN_CONFIG) config: WardenConfig,
  ) {
    super({
      jwtFromRequest: bearerOrBareToken,
      secretOrKeyProvider: tokens.keyProviders.refresh,
      algorithms: WARDEN_ALGORITHMS,
      issuer: config.issuer,
      audience: `${config.baseUrl}/system/reauth`,
      ignoreExpiration: true,
      jsonWebTokenOptions: JWT_VERIFY_OPTIONS,
    });
  }

  validate(verified: VerifiedJwt): WardenClaims {
    return this.tokens.claimsOf('refresh', verified);
  }
}
