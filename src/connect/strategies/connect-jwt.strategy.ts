import { Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import type { StrategyRequest } from '../../auth/strategies/strategy-runner';
import { connectTokenOf, parseAuthorization } from '../../common/credentials';
import {
  CredentialKindHandler,
  PresentedRequest,
  Resolution,
} from '../../auth/kinds/credential-kind';
import { JwtError } from '../../common/jwt/jws';
import { JWT_VERIFY_OPTIONS, keyProvider, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { Principal } from '../../common/principal';
import { ConnectJwtService } from '../connect-jwt.service';

/** What the host product may do through Warden's routes: read and write, never administer. */
export const CONNECT_PRINCIPAL_SCOPES: readonly string[] = Object.freeze(['read', 'write']);

/**
 * The Connect JWT of a request: `Authorization: JWT <token>` or `?jwt=`. Two of them (a header and
 * a parameter, or two parameters) are refused: the upstream might read the other one.
 */
export function connectTokenFrom(request: StrategyRequest): string {
  const token = connectTokenOf(
    parseAuthorization(request.headers.authorization),
    request.target?.url,
  );
  if (token === null || token === 'ambiguous' || !request.target)
    throw new JwtError('malformed', 'Expected one Connect JWT');
  return token;
}

/**
 * `connect`: a request from the host product. HS256 only, with the shared secret of the tenant
 * the token's `iss` names; then the tenant must be installed and enabled, `exp` present and
 * `qsh` the hash of this very request (or `context-qsh` where the route takes context tokens).
 */
@Injectable()
export class ConnectJwtStrategy extends LocalPassportStrategy(JwtStrategy, 'connect') {
  constructor(private readonly connect: ConnectJwtService) {
    super({
      jwtFromRequest: connectTokenFrom,
      secretOrKeyProvider: keyProvider((decoded) => connect.requestKey(decoded)),
      algorithms: ['HS256'],
      ignoreExpiration: true,
      passReqToCallback: true,
      jsonWebTokenOptions: JWT_VERIFY_OPTIONS,
    });
  }

  validate(request: StrategyRequest, { payload }: VerifiedJwt): Principal {
    const claims = this.connect.requestClaims(
      payload,
      request.target!,
      request.connectContext === true,
    );
    const { clientKey } = claims.tenant;
    return {
      id: claims.accountId ? `connect:${clientKey}:${claims.accountId}` : `connect:${clientKey}`,
      username: claims.accountId ?? `connect:${clientKey}`,
      groups: [],
      authMethod: 'connect',
      credentialId: clientKey,
      scopes: CONNECT_PRINCIPAL_SCOPES as string[],
      tenant: clientKey,
      connect: { accountId: claims.accountId, context: claims.context },
    };
  }
}

/**
 * The `connect` kind: `Authorization: JWT …` or one `jwt` query parameter on a route that takes
 * Connect. Bound to the request (qsh) and fresh on every call: nothing to remember.
 */
@Injectable()
export class ConnectJwtKind extends CredentialKindHandler<Principal> {
  readonly kind = 'connect';
  readonly challenge = 'JWT';
  readonly securityScheme = CONNECT_SECURITY_SCHEME;

  constructor(readonly strategy: ConnectJwtStrategy) {
    super();
  }

  recognises({ presented, request }: PresentedRequest): boolean {
    return connectTokenOf(presented, request.target?.url) !== null;
  }

  resolve(principal: Principal): Resolution {
    return { authenticated: { principal } };
  }
}

/** How OpenAPI names Connect's JWT: the `Authorization: JWT <token>` header (or `?jwt=`). */
export const CONNECT_SECURITY_SCHEME = {
  name: 'connectJwt',
  definition: {
    type: 'apiKey' as const,
    in: 'header',
    name: 'Authorization',
    description:
      'Atlassian Connect JWT: "JWT <token>" (HS256 with the tenant\'s shared secret, qsh bound)',
  },
};
