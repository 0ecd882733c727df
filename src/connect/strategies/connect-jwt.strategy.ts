import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from '../../auth/strategies/strategy-runner';
import { connectTokenOf, parseAuthorization } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { Principal } from '../../common/principal';
import { ConnectJwtService } from '../connect-jwt.service';

/** What the host product may do through Warden's routes: read and write, never administer. */
export const CONNECT_PRINCIPAL_SCOPES: readonly string[] = Object.freeze(['read', 'write']);

/**
 * `connect`: a request from the host product, `Authorization: JWT <token>` or `?jwt=`; HS256
 * with the tenant's shared secret and `qsh` over the request (ConnectJwtService).
 */
@Injectable()
export class ConnectJwtStrategy extends PassportStrategy(Strategy, 'connect') {
  constructor(private readonly connect: ConnectJwtService) {
    super();
  }

  async validate(request: StrategyRequest): Promise<Principal> {
    const token = connectTokenOf(
      parseAuthorization(request.headers.authorization),
      request.target?.url,
    );
    if (token === null || token === 'ambiguous' || !request.target)
      throw new JwtError('malformed', 'Expected one Connect JWT');
    const claims = this.connect.verifyRequest(
      token,
      request.target,
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
