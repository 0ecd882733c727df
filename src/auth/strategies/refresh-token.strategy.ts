import { Inject, Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import { API_TOKEN_MARK, bearerOrBareToken } from '../../common/credentials';
import { JWT_VERIFY_OPTIONS, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { ALL_SCOPES } from '../../common/principal';
import {
  CredentialKindHandler,
  KindTools,
  PresentedRequest,
  Resolution,
} from '../kinds/credential-kind';
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

/**
 * The `refresh` kind: on /system/reauth, the only route taking it; never remembered (each renewal
 * reads its session), and its claims go to the renewal.
 */
@Injectable()
export class RefreshTokenKind extends CredentialKindHandler<WardenClaims> {
  readonly kind = 'refresh';
  readonly challenge = 'Bearer';
  readonly securityScheme = {
    name: 'refreshToken',
    definition: {
      type: 'http' as const,
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'Refresh token from /system/auth (the bare token without "Bearer" is accepted too)',
    },
  };

  constructor(readonly strategy: RefreshTokenStrategy) {
    super();
  }

  recognises({ presented }: PresentedRequest): boolean {
    return (
      (presented.scheme === 'bearer' || presented.scheme === 'bare') &&
      !presented.token.startsWith(API_TOKEN_MARK)
    );
  }

  async resolve(
    claims: WardenClaims,
    _input: PresentedRequest,
    tools: KindTools,
  ): Promise<Resolution> {
    const principal = await tools.principalOf({
      kind: 'refresh',
      userId: claims.sub,
      credentialId: claims.sid,
      scopes: ALL_SCOPES,
    });
    return { authenticated: { principal, refreshClaims: claims } };
  }
}
