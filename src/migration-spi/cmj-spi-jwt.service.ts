import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { checkClaims } from '../common/jwt/claims';
import { decodeJws, JwtError, verifyJwsSignature } from '../common/jwt/jws';
import { RemoteKeySource } from '../common/jwt/remote-key-source';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { parseCmjKey } from './cmj-keys';

export interface CmjSpiClaims {
  iss?: string;
  sub?: string;
  exp: number;
  kid: string;
}

/**
 * `cmj-spi`: a Bearer JWT from CMJ Cloud on the SPI routes. RS256 only (the header must say so
 * and the key must be RSA), `kid` required and looked up in the CMJ Keys API
 * (`CMJ_KEYS_URL/{kid}`), keys cached by kid, unknown kids remembered for a minute, `exp`
 * required, `aud` checked (CMJ_JWT_AUDIENCE, WARDEN_BASE_URL by default: a token CMJ made for
 * another app is not one for Warden), `iss` when CMJ_JWT_ISSUER is set.
 */
@Injectable()
export class CmjSpiJwtService {
  private readonly keys: RemoteKeySource;

  constructor(
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    this.keys = new RemoteKeySource({
      baseUrls: [config.cmj.keysUrl],
      parse: parseCmjKey,
      alg: 'RS256',
      // Operators choose this URL; a token only picks a kid under it.
      allowHttp: true,
      accept: 'application/json',
    });
  }

  /** `caller`: the client's address, charged when the token names a key not yet fetched. */
  async verify(token: string, caller = ''): Promise<CmjSpiClaims> {
    const decoded = decodeJws(token);
    if (decoded.header.alg !== 'RS256')
      throw new JwtError('unsupported_algorithm', 'CMJ SPI tokens must be signed with RS256');
    if (typeof decoded.header.kid !== 'string' || decoded.header.kid === '')
      throw new JwtError('unknown_key', 'CMJ SPI tokens must name their key (kid)');
    // Claims first: a token that cannot pass costs no call to the Keys API. Nothing is trusted
    // until the signature below verifies.
    checkClaims(decoded.payload, {
      requireExp: true,
      issuer: this.config.cmj.jwtIssuer,
      audience: this.config.cmj.jwtAudience,
      nowSeconds: Math.floor(this.clock.now() / 1000),
    });
    const key = await this.keys.key(decoded.header.kid, this.clock.now(), caller);
    verifyJwsSignature(decoded, key);
    return {
      iss: decoded.payload.iss as string | undefined,
      sub: decoded.payload.sub as string | undefined,
      exp: decoded.payload.exp as number,
      kid: decoded.header.kid,
    };
  }
}
