import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { Clock } from '../common/clock';
import { checkClaims } from '../common/jwt/claims';
import { decodeJws, JwtError, signJws, verifyJwsSignature } from '../common/jwt/jws';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { KeyRingService } from './keys/key-ring.service';

export type WardenTokenKind = 'access' | 'refresh';

/** Header `typ` per kind: RFC 9068 §2.1 for access tokens; refresh tokens get their own so neither passes as the other. */
export const TOKEN_TYPES: Record<WardenTokenKind, string> = {
  access: 'at+jwt',
  refresh: 'refresh+jwt',
};

export interface WardenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  sid: string;
}

export interface IssuedToken {
  token: string;
  claims: WardenClaims;
}

/** Signs and verifies Warden's own access and refresh tokens. */
@Injectable()
export class WardenTokens {
  private readonly audiences: Record<WardenTokenKind, string>;

  constructor(
    private readonly keyRing: KeyRingService,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    // Distinct audiences: the API for access tokens, the renewal endpoint for refresh tokens.
    this.audiences = { access: config.baseUrl, refresh: `${config.baseUrl}/system/reauth` };
  }

  issue(
    kind: WardenTokenKind,
    subject: string,
    sessionId: string,
    ttlSeconds: number,
    now = this.clock.now(),
  ): IssuedToken {
    const iat = Math.floor(now / 1000);
    const claims: WardenClaims = {
      iss: this.config.issuer,
      sub: subject,
      aud: this.audiences[kind],
      exp: iat + ttlSeconds,
      iat,
      jti: randomUUID(),
      sid: sessionId,
    };
    return {
      token: signJws({ typ: TOKEN_TYPES[kind] }, claims, this.keyRing.signingKey()),
      claims,
    };
  }

  /**
   * Full verification of a Warden token of the given kind: key by `kid` from Warden's own key
   * ring only, algorithm from that key, then `typ`, `iss`, `aud`, times and claim types.
   */
  async verify(kind: WardenTokenKind, token: string): Promise<WardenClaims> {
    const decoded = decodeJws(token);
    const key =
      this.keyRing.knownKey(decoded.header.kid ?? '') ??
      (await this.keyRing.verificationKey(decoded.header.kid));
    if (!key) throw new JwtError('unknown_key', 'Token was not signed by a known key');
    verifyJwsSignature(decoded, key);
    if ((decoded.header.typ ?? '').toLowerCase() !== TOKEN_TYPES[kind]) {
      throw new JwtError(
        'wrong_type',
        `Token is not ${kind === 'access' ? 'an access' : 'a refresh'} token`,
      );
    }
    checkClaims(decoded.payload, {
      issuer: this.config.issuer,
      audience: this.audiences[kind],
      requireExp: true,
      requiredStrings: ['sub', 'jti', 'sid'],
      nowSeconds: Math.floor(this.clock.now() / 1000),
    });
    if (typeof decoded.payload.iat !== 'number')
      throw new JwtError('bad_claim', 'Claim iat is required');
    return decoded.payload as unknown as WardenClaims;
  }
}

/** Refresh tokens are stored by the SHA-256 of their `jti`, never the token itself. */
export function hashJti(jti: string): string {
  return createHash('sha256').update(jti).digest('hex');
}
