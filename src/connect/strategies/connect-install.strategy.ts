import { Injectable } from '@nestjs/common';
import { hash } from 'node:crypto';
import { Strategy as JwtStrategy } from 'passport-jwt';
import type { StrategyRequest } from '../../auth/strategies/strategy-runner';
import { parseAuthorization } from '../../common/credentials';
import {
  CredentialKindHandler,
  PresentedRequest,
  Resolution,
} from '../../auth/kinds/credential-kind';
import { CONNECT_SECURITY_SCHEME } from './connect-jwt.strategy';
import { JwtError } from '../../common/jwt/jws';
import { JWT_VERIFY_OPTIONS, keyProvider, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { Principal } from '../../common/principal';
import { ConnectJwtService } from '../connect-jwt.service';

/** A lifecycle callback's token: `Authorization: JWT <token>`, nothing else. */
function lifecycleToken(request: StrategyRequest): string {
  const credential = parseAuthorization(request.headers.authorization);
  if (credential.scheme !== 'jwt' || !request.target)
    throw new JwtError('malformed', 'Expected Authorization: JWT with a signed lifecycle token');
  return credential.token;
}

/**
 * `connect-install`: a signed lifecycle callback (installed, uninstalled). RS256 only, with the
 * key Atlassian publishes for the token's `kid` (CONNECT_KEYS_URL); `aud` our base URL, `qsh`
 * of the callback, `exp` and `iat` required, all judged before the key is fetched. The principal
 * names the tenant the token was issued by (`iss`); the lifecycle controller matches it with the
 * body's clientKey.
 */
@Injectable()
export class ConnectInstallStrategy extends LocalPassportStrategy(JwtStrategy, 'connect-install') {
  constructor(private readonly connect: ConnectJwtService) {
    super({
      jwtFromRequest: lifecycleToken,
      secretOrKeyProvider: keyProvider((decoded, request: StrategyRequest) =>
        connect.lifecycleKey(decoded, request.target!, request.ip),
      ),
      algorithms: ['RS256'],
      ignoreExpiration: true,
      passReqToCallback: true,
      jsonWebTokenOptions: JWT_VERIFY_OPTIONS,
    });
  }

  validate(request: StrategyRequest, { payload }: VerifiedJwt): Principal {
    const claims = this.connect.lifecycleClaims(payload, request.target!);
    const token = lifecycleToken(request);
    return {
      id: `connect:${claims.clientKey}`,
      username: `connect:${claims.clientKey}`,
      groups: [],
      authMethod: 'connect-install',
      credentialId: claims.clientKey,
      scopes: ['read', 'write'],
      tenant: claims.clientKey,
      connect: { lifecycle: { iat: claims.iat, digest: hash('sha256', token, 'hex') } },
    };
  }
}

/** The `connect-install` kind: `Authorization: JWT …` on the lifecycle callbacks only. */
@Injectable()
export class ConnectInstallKind extends CredentialKindHandler<Principal> {
  readonly kind = 'connect-install';
  readonly challenge = 'JWT';
  readonly securityScheme = CONNECT_SECURITY_SCHEME;

  constructor(readonly strategy: ConnectInstallStrategy) {
    super();
  }

  recognises({ presented }: PresentedRequest): boolean {
    return presented.scheme === 'jwt';
  }

  resolve(principal: Principal): Resolution {
    return { authenticated: { principal } };
  }
}
