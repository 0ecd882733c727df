import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { hash } from 'node:crypto';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from '../../auth/strategies/strategy-runner';
import { parseAuthorization } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { Principal } from '../../common/principal';
import { ConnectJwtService } from '../connect-jwt.service';

/**
 * `connect-install`: a signed lifecycle callback (installed, uninstalled), `Authorization: JWT`
 * with an RS256 token whose key Atlassian publishes by `kid`. The principal names the tenant the
 * token was issued by (`iss`); the lifecycle controller matches it with the body's clientKey.
 */
@Injectable()
export class ConnectInstallStrategy extends PassportStrategy(Strategy, 'connect-install') {
  constructor(private readonly connect: ConnectJwtService) {
    super();
  }

  async validate(request: StrategyRequest): Promise<Principal> {
    const credential = parseAuthorization(request.headers.authorization);
    if (credential.scheme !== 'jwt' || !request.target)
      throw new JwtError('malformed', 'Expected Authorization: JWT with a signed lifecycle token');
    const claims = await this.connect.verifyLifecycle(credential.token, request.target, request.ip);
    return {
      id: `connect:${claims.clientKey}`,
      username: `connect:${claims.clientKey}`,
      groups: [],
      authMethod: 'connect-install',
      credentialId: claims.clientKey,
      scopes: ['read', 'write'],
      tenant: claims.clientKey,
      connect: { lifecycle: { iat: claims.iat, digest: hash('sha256', credential.token, 'hex') } },
    };
  }
}
