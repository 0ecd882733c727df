import { Inject, Injectable } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { Clock } from '../common/clock';
import { checkClaims } from '../common/jwt/claims';
import { DecodedJws, JwtError } from '../common/jwt/jws';
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
 * required, `iss` when CMJ_JWT_ISSUER is set. `aud`: CMJ's SPI documents `kid` and the key, no
 * audience, so with CMJ_JWT_AUDIENCE unset a token may carry none; one that carries an `aud` must
 * name Warden (WARDEN_BASE_URL or CONNECT_APP_KEY) among its values, since RFC 7519 §4.1.3 has the
 * recipient find itself there: a token CMJ made for another app is not one for Warden. With
 * CMJ_JWT_AUDIENCE set, `aud` is required and must be (or, as an array, hold) that value.
 */
@Injectable()
export class CmjSpiJwtService {
  private readonly keys: RemoteKeySource;
  /** What an `aud` may name when CMJ_JWT_AUDIENCE is unset. */
  private readonly ownNames: readonly string[];

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
    // The base URL is kept without its trailing slash; a token may name it with one.
    this.ownNames = [config.baseUrl, `${config.baseUrl}/`, config.connect.appKey];
  }

  /**
   * The key for a token's `kid` from the CMJ Keys API. The claims are judged first: a token that
   * cannot pass costs no call to the Keys API; nothing is trusted until jsonwebtoken has verified
   * the signature with the key returned. `caller`: the client's address, charged when the token
   * names a key not yet fetched.
   */
  async keyFor(decoded: DecodedJws, caller = ''): Promise<KeyObject> {
    if (decoded.header.alg !== 'RS256')
      throw new JwtError('unsupported_algorithm', 'CMJ SPI tokens must be signed with RS256');
    if (typeof decoded.header.kid !== 'string' || decoded.header.kid === '')
      throw new JwtError('unknown_key', 'CMJ SPI tokens must name their key (kid)');
    this.claimsOf(decoded.header.kid, decoded.payload);
    return (await this.keys.key(decoded.header.kid, this.clock.now(), caller)).key;
  }

  /** What a CMJ token must say: `exp`, `iss` when CMJ_JWT_ISSUER is set, `aud` as above. */
  claimsOf(kid: string, payload: Record<string, unknown>): CmjSpiClaims {
    checkClaims(payload, {
      requireExp: true,
      issuer: this.config.cmj.jwtIssuer,
      audience: this.config.cmj.jwtAudience,
      nowSeconds: Math.floor(this.clock.now() / 1000),
    });
    this.checkDefaultAudience(payload.aud);
    return {
      iss: payload.iss as string | undefined,
      sub: payload.sub as string | undefined,
      exp: payload.exp as number,
      kid,
    };
  }

  /** With CMJ_JWT_AUDIENCE unset: no `aud` passes; one present must name Warden. */
  private checkDefaultAudience(aud: unknown): void {
    // Set, checkClaims has required it; its types (string or array of strings) are checked there.
    if (this.config.cmj.jwtAudience !== undefined || aud === undefined) return;
    const values = Array.isArray(aud) ? aud : [aud];
    if (!values.some((value) => this.ownNames.includes(value as string)))
      throw new JwtError('wrong_audience', 'Token has the wrong audience: it is not for Warden');
  }
}
