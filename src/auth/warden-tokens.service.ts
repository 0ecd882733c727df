import { Inject, Injectable } from '@nestjs/common';
import { createHash, KeyObject, randomUUID } from 'node:crypto';
import { Algorithm, sign } from 'jsonwebtoken';
import type { SecretOrKeyProvider } from 'passport-jwt';
import { Clock } from '../common/clock';
import { checkClaims } from '../common/jwt/claims';
import { DecodedJws, JwsKey, JwtError } from '../common/jwt/jws';
import { assertAlgorithmOfKey, keyProvider, VerifiedJwt } from '../common/jwt/passport-jwt';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { KeyRingService } from './keys/key-ring.service';

export type WardenTokenKind = 'access' | 'refresh';

/** Header `typ` per kind: RFC 9068 §2.1 for access tokens; refresh tokens get their own so neither passes as the other. */
export const TOKEN_TYPES: Record<WardenTokenKind, string> = {
  access: 'at+jwt',
  refresh: 'refresh+jwt',
};

/** What Warden's key ring may sign with; each key still pins its own one (the key provider). */
export const WARDEN_ALGORITHMS: Algorithm[] = ['RS256', 'ES256'];

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

/**
 * Signs Warden's own access and refresh tokens, and gives their two strategies what verifies
 * them: the key ring's keys by `kid`, each kind's audience, and the claim rules.
 */
@Injectable()
export class WardenTokens {
  private readonly audiences: Record<WardenTokenKind, string>;
  /** Per kind: the key ring's public keys by `kid`, the algorithm pinned by each key. */
  readonly keyProviders: Record<WardenTokenKind, SecretOrKeyProvider>;

  constructor(
    private readonly keyRing: KeyRingService,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    // Distinct audiences: the API for access tokens, the renewal endpoint for refresh tokens.
    this.audiences = { access: config.baseUrl, refresh: `${config.baseUrl}/system/reauth` };
    // The key is in memory but for a `kid` never seen (a key another instance just made): only
    // then does the provider wait, for the key ring to reload.
    const providerFor = (kind: WardenTokenKind) =>
      keyProvider((decoded) => {
        const kid = decoded.header.kid ?? '';
        const known = keyRing.knownKey(kid);
        if (known) return keyFor(kind, decoded, known);
        return keyRing.verificationKey(kid).then((key) => keyFor(kind, decoded, key));
      });
    this.keyProviders = { access: providerFor('access'), refresh: providerFor('refresh') };
  }

  get issuer(): string {
    return this.config.issuer;
  }

  audienceOf(kind: WardenTokenKind): string {
    return this.audiences[kind];
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
    const key = this.keyRing.signingKey();
    const token = sign(claims, key.key, {
      algorithm: key.alg as Algorithm,
      keyid: key.kid,
      header: { alg: key.alg, typ: TOKEN_TYPES[kind] },
    });
    return { token, claims };
  }

  /**
   * The claims of a verified Warden token of this kind (its `typ` was checked with its key): `exp`, `iat` and the other registered claims with the application's clock;
   * jsonwebtoken has checked the signature, `iss` and `aud`.
   */
  claimsOf(kind: WardenTokenKind, { payload }: VerifiedJwt): WardenClaims {
    checkClaims(payload, {
      issuer: this.config.issuer,
      audience: this.audiences[kind],
      requireExp: true,
      requiredStrings: ['sub', 'jti', 'sid'],
      nowSeconds: Math.floor(this.clock.now() / 1000),
    });
    if (typeof payload.iat !== 'number') throw new JwtError('bad_claim', 'Claim iat is required');
    return payload as unknown as WardenClaims;
  }
}

/** The key a Warden token of `kind` is verified with, once its header fits that key and kind. */
function keyFor(kind: WardenTokenKind, decoded: DecodedJws, key: JwsKey | undefined): KeyObject {
  if (!key) throw new JwtError('unknown_key', 'Token was not signed by a known key');
  assertAlgorithmOfKey(decoded, key.alg);
  // One of Warden's own tokens, of the other kind, is refused as such.
  if ((decoded.header.typ ?? '').toLowerCase() !== TOKEN_TYPES[kind]) {
    throw new JwtError(
      'wrong_type',
      `Token is not ${kind === 'access' ? 'an access' : 'a refresh'} token`,
    );
  }
  return key.key;
}

/** Refresh tokens are stored by the SHA-256 of their `jti`, never the token itself. */
export function hashJti(jti: string): string {
  return createHash('sha256').update(jti).digest('hex');
}
