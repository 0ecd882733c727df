import { createHash, generateKeyPairSync, KeyObject } from 'node:crypto';
import { Clock } from '../common/clock';
import { decodeJws, JwsKey, JwtError } from '../common/jwt/jws';
import { WardenConfig } from '../config/warden-config';
import { signJws, verifyJwsSignature } from '../../test/support/jws';
import { strict } from '../../test/support/strict-mock';
import { KeyRingService } from './keys/key-ring.service';
import {
  hashJti,
  TOKEN_TYPES,
  WardenClaims,
  WardenTokenKind,
  WardenTokens,
} from './warden-tokens.service';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const NOW_S = NOW / 1000;
const BASE_URL = 'https://warden.example.test';
const ISSUER = 'https://warden.example.test/issuer';
/** Distinct audiences, so that neither kind passes as the other. */
const AUDIENCE = { access: BASE_URL, refresh: `${BASE_URL}/system/reauth` } as const;

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

function ecKey(kid: string): JwsKey & { privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { alg: 'ES256', key: publicKey, kid, privateKey };
}

describe(WardenTokens.name, () => {
  const current = ecKey('kid-current');
  const retired = ecKey('kid-retired');
  let keyRing: { signingKey: jest.Mock; knownKey: jest.Mock; verificationKey: jest.Mock };
  let clock: MovableClock;
  let sut: WardenTokens;

  beforeEach(() => {
    const published = (k: typeof current): JwsKey => ({ alg: k.alg, key: k.key, kid: k.kid });
    keyRing = {
      signingKey: jest.fn(() => ({ alg: 'ES256', key: current.privateKey, kid: current.kid })),
      knownKey: jest.fn((kid: string) => (kid === current.kid ? published(current) : undefined)),
      // A key another instance made since this one loaded its key set.
      verificationKey: jest.fn(async (kid: string) =>
        kid === retired.kid ? published(retired) : undefined,
      ),
    };
    clock = new MovableClock();
    const config = { baseUrl: BASE_URL, issuer: ISSUER } as unknown as WardenConfig;
    sut = new WardenTokens(strict<KeyRingService>(keyRing), clock, config);
  });

  /** What the kind's key provider answers for a token: the key, or the JwtError's reason. */
  function keyFor(kind: WardenTokenKind, token: string): Promise<KeyObject | string> {
    return new Promise((resolve) => {
      sut.keyProviders[kind]({}, token, (err: unknown, key?: unknown) => {
        if (err instanceof JwtError) resolve(err.reason);
        else if (err) resolve(`unexpected: ${String(err)}`);
        else resolve(key as KeyObject);
      });
    });
  }

  const tokenOf = (
    kind: WardenTokenKind,
    key: typeof current = current,
    header: Record<string, unknown> = {},
  ) =>
    signJws(
      { typ: TOKEN_TYPES[kind], ...header },
      {
        iss: ISSUER,
        sub: 'u',
        aud: AUDIENCE[kind],
        exp: NOW_S + 60,
        iat: NOW_S,
        jti: 'j',
        sid: 's',
      },
      { alg: 'ES256', key: key.privateKey, kid: key.kid },
    );

  describe('issue', () => {
    it.each([
      ['access', BASE_URL, 'at+jwt'],
      ['refresh', `${BASE_URL}/system/reauth`, 'refresh+jwt'],
    ] as const)('signs a %s token for its own audience, typed as such', (kind, aud, typ) => {
      const { token, claims } = sut.issue(kind, 'u-alice', 'session-1', 900);
      expect(claims).toEqual({
        iss: ISSUER,
        sub: 'u-alice',
        aud,
        exp: NOW_S + 900,
        iat: NOW_S,
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
        sid: 'session-1',
      });
      const decoded = decodeJws(token);
      expect(decoded.header).toEqual({ alg: 'ES256', typ, kid: 'kid-current' });
      expect(decoded.payload).toEqual(claims);
      expect(() => verifyJwsSignature(token, current)).not.toThrow();
    });

    it('gives every token a jti of its own, and takes the time it is given', () => {
      const a = sut.issue('access', 'u', 's', 60, NOW + 5_500);
      const b = sut.issue('access', 'u', 's', 60);
      expect(a.claims.jti).not.toBe(b.claims.jti);
      expect(a.claims.iat).toBe(NOW_S + 5);
      expect(a.claims.exp).toBe(NOW_S + 65);
    });
  });

  describe('keyProviders', () => {
    it("answers the known key for a token of the provider's kind", async () => {
      for (const kind of ['access', 'refresh'] as const) {
        const key = await keyFor(kind, tokenOf(kind));
        expect(key).toBe(keyRing.knownKey(current.kid)?.key);
      }
      expect(keyRing.verificationKey).not.toHaveBeenCalled();
    });

    it('asks the key ring to reload for a kid it does not hold yet', async () => {
      const key = await keyFor('access', tokenOf('access', retired));
      expect(keyRing.verificationKey).toHaveBeenCalledWith('kid-retired');
      expect((key as KeyObject).equals(retired.key)).toBe(true);
    });

    it.each([
      ['a refresh token where an access token is taken', 'access', 'refresh', {}, 'wrong_type'],
      ['an access token where a refresh token is taken', 'refresh', 'access', {}, 'wrong_type'],
      ['a token without typ', 'access', 'access', { typ: undefined }, 'wrong_type'],
      ['a plain JWT typ', 'access', 'access', { typ: 'JWT' }, 'wrong_type'],
    ] as const)('refuses %s', async (_name, kind, made, header, reason) => {
      await expect(keyFor(kind, tokenOf(made, current, header))).resolves.toBe(reason);
    });

    it('takes the typ in any case', async () => {
      const key = await keyFor('access', tokenOf('access', current, { typ: 'AT+JWT' }));
      expect(key).toBeInstanceOf(KeyObject);
    });

    it('refuses a kid no key of the ring has, or none', async () => {
      const stranger = ecKey('kid-stranger');
      await expect(keyFor('access', tokenOf('access', stranger))).resolves.toBe('unknown_key');
      const noKid = signJws(
        { typ: 'at+jwt' },
        { iss: ISSUER, sub: 'u', exp: NOW_S + 60 },
        { alg: 'ES256', key: current.privateKey },
      );
      await expect(keyFor('access', noKid)).resolves.toBe('unknown_key');
    });

    it('refuses a token whose algorithm is not the one its key pins', async () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const token = signJws(
        { typ: 'at+jwt' },
        { iss: ISSUER, sub: 'u', exp: NOW_S + 60 },
        { alg: 'RS256', key: rsa.privateKey, kid: current.kid },
      );
      await expect(keyFor('access', token)).resolves.toBe('unsupported_algorithm');
    });
  });

  describe('claimsOf', () => {
    const claims = (
      kind: WardenTokenKind,
      overrides: Partial<Record<keyof WardenClaims, unknown>> = {},
    ) => ({
      iss: ISSUER,
      sub: 'u-alice',
      aud: AUDIENCE[kind],
      exp: NOW_S + 60,
      iat: NOW_S,
      jti: 'jti-1',
      sid: 'session-1',
      ...overrides,
    });
    const verified = (payload: Record<string, unknown>) => ({ header: { alg: 'ES256' }, payload });
    const reasonOf = (kind: WardenTokenKind, payload: Record<string, unknown>) => {
      try {
        sut.claimsOf(kind, verified(payload));
      } catch (err) {
        return (err as JwtError).reason;
      }
      return 'accepted';
    };

    it('answers the claims of a token of the kind', () => {
      expect(sut.claimsOf('refresh', verified(claims('refresh')))).toEqual(claims('refresh'));
    });

    it.each([
      ['an access token as a refresh token', 'refresh', claims('access'), 'wrong_audience'],
      ['a refresh token as an access token', 'access', claims('refresh'), 'wrong_audience'],
      ['another issuer', 'access', claims('access', { iss: 'https://other' }), 'wrong_issuer'],
      ['no sub', 'access', claims('access', { sub: undefined }), 'bad_claim'],
      ['no jti', 'access', claims('access', { jti: '' }), 'bad_claim'],
      ['no sid', 'access', claims('access', { sid: undefined }), 'bad_claim'],
      ['no iat', 'access', claims('access', { iat: undefined }), 'bad_claim'],
      ['no exp', 'access', claims('access', { exp: undefined }), 'bad_claim'],
      ['an expired token', 'access', claims('access', { exp: NOW_S - 30 }), 'expired'],
    ] as const)('refuses %s', (_name, kind, payload, reason) => {
      expect(reasonOf(kind, payload)).toBe(reason);
    });

    it("judges expiry by the application's clock", () => {
      const payload = claims('access');
      expect(reasonOf('access', payload)).toBe('accepted');
      clock.at = NOW + 90_000;
      expect(reasonOf('access', payload)).toBe('expired');
    });
  });

  it('names its issuer and each kind its audience', () => {
    expect(sut.issuer).toBe(ISSUER);
    expect(sut.audienceOf('access')).toBe(BASE_URL);
    expect(sut.audienceOf('refresh')).toBe(`${BASE_URL}/system/reauth`);
  });
});

describe(hashJti.name, () => {
  it('is the hex SHA-256 of the jti', () => {
    expect(hashJti('jti-1')).toBe(createHash('sha256').update('jti-1').digest('hex'));
    expect(hashJti('jti-1')).not.toBe(hashJti('jti-2'));
  });
});
