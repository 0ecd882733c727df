import { Injectable } from '@nestjs/common';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { bearerToken } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { ExternalIdentity, ExternalJwtService } from '../external/external-jwt.service';

/**
 * `external`, asked rather than verified: a bearer token routed to an introspection provider (an
 * opaque token its `opaqueTokens` pattern claims, or a JWT naming its issuer) is sent to that
 * provider's RFC 7662 endpoint; nothing of it is a signature Warden could check.
 */
@Injectable()
export class ExternalIntrospectionStrategy extends LocalPassportStrategy(
  Strategy,
  'external-introspection',
) {
  constructor(private readonly external: ExternalJwtService) {
    super();
  }

  async validate(request: StrategyRequest): Promise<ExternalIdentity & { generation: number }> {
    const token = bearerToken(request);
    if (!token) throw new JwtError('malformed', 'Expected a bearer token');
    // As the JWT strategy does: an answer begun under older settings is not remembered.
    const generation = this.external.generation;
    return { ...(await this.external.introspect(token)), generation };
  }
}
