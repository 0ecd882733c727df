import { failureOf } from '../../../test/support/jws-keys';
import { checkClaims, ClaimRules, CLOCK_SKEW_SECONDS } from './claims';
import { JwtFailure } from './jws';

const NOW = 1_700_000_000;

function check(payload: Record<string, unknown>, rules: ClaimRules = {}): JwtFailure | undefined {
  return failureOf(() => checkClaims(payload, { nowSeconds: NOW, ...rules }));
}

function without(payload: Record<string, unknown>, name: string): Record<string, unknown> {
  const copy = { ...payload };
  delete copy[name];
  return copy;
}

const VALID = {
  iss: 'https://warden.example',
  sub: 'user-1',
  aud: 'warden-api',
  jti: 'jti-1',
  iat: NOW - 10,
  nbf: NOW - 10,
  exp: NOW + 300,
};

describe('checkClaims', () => {
  it('accepts a payload whose registered claims are all well formed and current', () => {
    expect(
      check(VALID, {
        issuer: 'https://warden.example',
        audience: 'warden-api',
        requiredStrings: ['sub', 'jti'],
      }),
    ).toBeUndefined();
  });

  describe('JSON types of the registered claims', () => {
    it.each<[string, Record<string, unknown>]>([
      ['exp as a string', { exp: String(NOW + 300) }],
      ['exp as Infinity', { exp: Number.POSITIVE_INFINITY }],
      ['exp as NaN', { exp: Number.NaN }],
      ['exp as null', { exp: null }],
      ['nbf as a boolean', { nbf: true }],
      ['iat as an object', { iat: { seconds: NOW } }],
      ['iss as a number', { iss: 42 }],
      ['iss as an object', { iss: { url: 'https://warden.example' } }],
      ['sub as a number', { sub: 12345 }],
      ['jti as an array', { jti: ['jti-1'] }],
      ['aud as an array containing a number', { aud: ['warden-api', 7] }],
      ['aud as a number', { aud: 7 }],
      ['aud as an object', { aud: { 0: 'warden-api' } }],
    ])('refuses %s as bad_claim', (_name, override) => {
      // Rules that the payload otherwise satisfies, so only the type can be at fault.
      expect(check({ ...VALID, ...override })).toBe('bad_claim');
    });

    it('checks types before time: an expired token with a string iss is bad_claim', () => {
      expect(check({ ...VALID, exp: NOW - 1000, iss: 1 })).toBe('bad_claim');
    });

    it('accepts aud as an array of strings', () => {
      expect(check({ ...VALID, aud: ['a', 'b'] })).toBeUndefined();
    });
  });

  describe('exp', () => {
    it('requires exp by default', () => {
      const withoutExp = without(VALID, 'exp');

      expect(check(withoutExp)).toBe('bad_claim');
      expect(check(withoutExp, { requireExp: true })).toBe('bad_claim');
    });

    it('accepts a missing exp when requireExp is false', () => {
      const withoutExp = without(VALID, 'exp');

      expect(check(withoutExp, { requireExp: false })).toBeUndefined();
    });

    it('refuses a token expired beyond the default skew', () => {
      expect(check({ ...VALID, exp: NOW - CLOCK_SKEW_SECONDS - 1 })).toBe('expired');
    });

    it('accepts a token expired by less than the default skew', () => {
      expect(check({ ...VALID, exp: NOW - CLOCK_SKEW_SECONDS + 1 })).toBeUndefined();
    });

    it('treats now - skew == exp as expired', () => {
      expect(check({ ...VALID, exp: NOW - 10 }, { skewSeconds: 10 })).toBe('expired');
      expect(check({ ...VALID, exp: NOW - 9 }, { skewSeconds: 10 })).toBeUndefined();
    });

    it('with no skew, refuses exp == now and accepts exp == now + 1', () => {
      expect(check({ ...VALID, exp: NOW }, { skewSeconds: 0 })).toBe('expired');
      expect(check({ ...VALID, exp: NOW + 1 }, { skewSeconds: 0 })).toBeUndefined();
    });

    it('uses nowSeconds rather than the wall clock', () => {
      const payload = { ...VALID, exp: NOW + 300 };

      expect(check(payload, { nowSeconds: NOW + 1000 })).toBe('expired');
      expect(check(payload, { nowSeconds: NOW })).toBeUndefined();
    });

    it('defaults now to the wall clock when nowSeconds is not given', () => {
      const wallNow = Math.floor(Date.now() / 1000);

      expect(failureOf(() => checkClaims({ exp: wallNow - 3600 }, {}))).toBe('expired');
      expect(failureOf(() => checkClaims({ exp: wallNow + 3600 }, {}))).toBeUndefined();
    });
  });

  describe('nbf and iat', () => {
    it.each(['nbf', 'iat'])('refuses %s in the future beyond the skew', (claim) => {
      expect(check({ ...VALID, [claim]: NOW + CLOCK_SKEW_SECONDS + 1 })).toBe('not_yet_valid');
    });

    it.each(['nbf', 'iat'])('accepts %s in the future within the skew', (claim) => {
      expect(check({ ...VALID, [claim]: NOW + CLOCK_SKEW_SECONDS })).toBeUndefined();
    });

    it.each(['nbf', 'iat'])('with a custom skew of 5, refuses %s at now + 6', (claim) => {
      expect(check({ ...VALID, [claim]: NOW + 6 }, { skewSeconds: 5 })).toBe('not_yet_valid');
      expect(check({ ...VALID, [claim]: NOW + 5 }, { skewSeconds: 5 })).toBeUndefined();
    });
  });

  describe('skew cap', () => {
    it('caps a larger skew at 60 seconds for exp', () => {
      expect(check({ ...VALID, exp: NOW - 61 }, { skewSeconds: 3600 })).toBe('expired');
      expect(check({ ...VALID, exp: NOW - 59 }, { skewSeconds: 3600 })).toBeUndefined();
    });

    it.each(['nbf', 'iat'])('caps a larger skew at 60 seconds for %s', (claim) => {
      expect(check({ ...VALID, [claim]: NOW + 61 }, { skewSeconds: 3600 })).toBe('not_yet_valid');
      expect(check({ ...VALID, [claim]: NOW + 60 }, { skewSeconds: 3600 })).toBeUndefined();
    });
  });

  describe('issuer', () => {
    it('refuses a different issuer as wrong_issuer', () => {
      expect(check({ ...VALID, iss: 'https://evil.example' }, { issuer: VALID.iss })).toBe(
        'wrong_issuer',
      );
    });

    it('refuses an issuer differing only by a trailing slash', () => {
      expect(check({ ...VALID, iss: `${VALID.iss}/` }, { issuer: VALID.iss })).toBe('wrong_issuer');
    });

    it('refuses a missing iss when an issuer is required', () => {
      const withoutIss = without(VALID, 'iss');

      expect(check(withoutIss, { issuer: VALID.iss })).toBe('wrong_issuer');
    });

    it('ignores iss when no issuer rule is given', () => {
      expect(check({ ...VALID, iss: 'https://anyone.example' })).toBeUndefined();
    });
  });

  describe('audience', () => {
    it('accepts a string aud equal to the audience', () => {
      expect(check({ ...VALID, aud: 'warden-api' }, { audience: 'warden-api' })).toBeUndefined();
    });

    it('refuses a string aud that differs as wrong_audience', () => {
      expect(check({ ...VALID, aud: 'other-api' }, { audience: 'warden-api' })).toBe(
        'wrong_audience',
      );
    });

    it('refuses a string aud that merely contains the audience', () => {
      expect(check({ ...VALID, aud: 'warden-api-staging' }, { audience: 'warden-api' })).toBe(
        'wrong_audience',
      );
    });

    it('accepts an array aud that contains the audience', () => {
      expect(
        check({ ...VALID, aud: ['other-api', 'warden-api'] }, { audience: 'warden-api' }),
      ).toBeUndefined();
    });

    it('refuses an array aud that does not contain the audience', () => {
      expect(check({ ...VALID, aud: ['other-api', 'third-api'] }, { audience: 'warden-api' })).toBe(
        'wrong_audience',
      );
    });

    it('refuses an empty array aud', () => {
      expect(check({ ...VALID, aud: [] }, { audience: 'warden-api' })).toBe('wrong_audience');
    });

    it('refuses a missing aud when an audience is required', () => {
      const withoutAud = without(VALID, 'aud');

      expect(check(withoutAud, { audience: 'warden-api' })).toBe('wrong_audience');
    });
  });

  describe('requiredStrings', () => {
    it('refuses a missing required claim as bad_claim', () => {
      const withoutJti = without(VALID, 'jti');

      expect(check(withoutJti, { requiredStrings: ['sub', 'jti'] })).toBe('bad_claim');
    });

    it('refuses an empty required claim as bad_claim', () => {
      expect(check({ ...VALID, sub: '' }, { requiredStrings: ['sub'] })).toBe('bad_claim');
    });

    it('refuses a required custom claim that is not a string', () => {
      expect(check({ ...VALID, sid: 42 }, { requiredStrings: ['sid'] })).toBe('bad_claim');
    });

    it('accepts required custom claims present as non-empty strings', () => {
      expect(
        check({ ...VALID, sid: 'session-1' }, { requiredStrings: ['sub', 'sid'] }),
      ).toBeUndefined();
    });
  });
});
