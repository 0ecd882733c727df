import { Inject, Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import { API_TOKEN_MARK, bearerOrBareToken } from '../../common/credentials';
import { JWT_VERIFY_OPTIONS, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { ALL_SCOPES } from '../../common/principal';
import { CredentialKindHandler, PresentedRequest, Resolution } from '../kinds/credential-kind';
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

/** The `access` kind: a Bearer or bare JWT of Warden's, remembered until it expires. */
@Injectable()
export class AccessTokenKind extends CredentialKindHandler<WardenClaims> {
  readonly kind = 'access';
  readonly challenge = 'Bearer';
  readonly securityScheme = {
    name: 'bearer',
    definition: {
      type: 'http' as const,
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'Access token from /system/auth (the bare token without "Bearer" is accepted too, as BigPicture clients send it)',
    },
  };

  constructor(readonly strategy: AccessTokenStrategy) {
    super();
  }

  recognises({ presented }: PresentedRequest): boolean {
    return (
      (presented.scheme === 'bearer' || presented.scheme === 'bare') &&
      !presented.token.startsWith(API_TOKEN_MARK)
    );
  }

  resolve(claims: WardenClaims): Resolution {
    return {
      remember: {
        kind: 'access',
        userId: claims.sub,
        credentialId: claims.sid,
        scopes: ALL_SCOPES,
      },
      until: claims.exp * 1000,
    };
  }
}
