import { Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import type { StrategyRequest } from '../../auth/strategies/strategy-runner';
import { bearerToken } from '../../common/credentials';
import {
  CredentialKindHandler,
  PresentedRequest,
  Resolution,
} from '../../auth/kinds/credential-kind';
import { JWT_VERIFY_OPTIONS, keyProvider, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { Principal } from '../../common/principal';
import { CmjSpiJwtService } from '../cmj-spi-jwt.service';

/**
 * `cmj-spi`: CMJ Cloud's `Bearer` JWT on the SPI routes. RS256 only, with the key the CMJ Keys
 * API publishes for the token's `kid` (Base64 DER SubjectPublicKeyInfo); `exp` required, `aud`
 * and `iss` as CmjSpiJwtService says, all judged before the key is fetched.
 */
@Injectable()
export class CmjSpiStrategy extends LocalPassportStrategy(JwtStrategy, 'cmj-spi') {
  constructor(private readonly cmj: CmjSpiJwtService) {
    super({
      jwtFromRequest: bearerToken,
      secretOrKeyProvider: keyProvider((decoded, request: StrategyRequest) =>
        cmj.keyFor(decoded, request.ip),
      ),
      algorithms: ['RS256'],
      ignoreExpiration: true,
      jsonWebTokenOptions: JWT_VERIFY_OPTIONS,
    });
  }

  validate({ header, payload }: VerifiedJwt): Principal {
    const claims = this.cmj.claimsOf(header.kid!, payload);
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

/**
 * The `cmj-spi` kind: any Bearer token on the SPI routes, which take this kind and nothing else
 * (and no other route takes it). Judged afresh every time.
 */
@Injectable()
export class CmjSpiKind extends CredentialKindHandler<Principal> {
  readonly kind = 'cmj-spi';
  readonly challenge = 'Bearer';
  readonly securityScheme = {
    name: 'cmjSpiJwt',
    definition: {
      type: 'http' as const,
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: "CMJ Cloud's RS256 JWT (key by kid from the CMJ Keys API)",
    },
  };

  constructor(readonly strategy: CmjSpiStrategy) {
    super();
  }

  recognises({ presented }: PresentedRequest): boolean {
    return presented.scheme === 'bearer';
  }

  resolve(principal: Principal): Resolution {
    return { authenticated: { principal } };
  }
}
