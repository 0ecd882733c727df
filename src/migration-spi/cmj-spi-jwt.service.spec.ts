import { Clock } from '../common/clock';
import { DecodedJws, JwtError } from '../common/jwt/jws';
import { WardenConfig } from '../config/warden-config';
import { CmjSpiJwtService } from './cmj-spi-jwt.service';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const NOW_S = NOW / 1000;
const BASE_URL = 'https://warden.example.test';
/** Nothing listens on the discard port: a test that reached the Keys API would fail there. */
const KEYS_URL = 'http://127.0.0.1:9/keys';

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

function build(cmj: { jwtIssuer?: string; jwtAudience?: string } = {}, clock = new MovableClock()) {
  const config = {
    baseUrl: BASE_URL,
    connect: { appKey: 'warden' },
    cmj: { keysUrl: KEYS_URL, ...cmj },
  } as unknown as WardenConfig;
  return new CmjSpiJwtService(clock, config);
}

const decoded = (
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): DecodedJws => ({
  header: header as DecodedJws['header'],
  payload,
});

/** The JwtError reason a call throws or rejects with, or `accepted`. */
async function outcome(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (err) {
    if (err instanceof JwtError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe(CmjSpiJwtService.name, () => {
  const claims = (overrides: Record<string, unknown> = {}) => ({
    iss: 'cmj',
    sub: 'cmj-cloud',
    exp: NOW_S + 60,
    ...overrides,
  });

  describe('claimsOf, with no audience configured', () => {
    const sut = build();

    it('answers the claims and the kid', () => {
      expect(sut.claimsOf('kid-1', claims())).toEqual({
        iss: 'cmj',
        sub: 'cmj-cloud',
        exp: NOW_S + 60,
        kid: 'kid-1',
      });
    });

    it.each([
      ['no aud', undefined, 'accepted'],
      ['the base URL', BASE_URL, 'accepted'],
      ['the base URL with a slash', `${BASE_URL}/`, 'accepted'],
      ['the app key', 'warden', 'accepted'],
      ['a list naming Warden', ['other-app', 'warden'], 'accepted'],
      ['another app', 'other-app', 'wrong_audience'],
      ['a list without Warden', ['other-app', 'third'], 'wrong_audience'],
      ['an empty list', [], 'wrong_audience'],
      ['a base URL with a path appended', `${BASE_URL}/x`, 'wrong_audience'],
    ])('takes %s as aud: %s', async (_name, aud, expected) => {
      await expect(outcome(() => sut.claimsOf('k', claims({ aud })))).resolves.toBe(expected);
    });

    it.each([
      ['no exp', { exp: undefined }, 'bad_claim'],
      ['an exp past the clock skew', { exp: NOW_S - 30 }, 'expired'],
      ['an exp that is a string', { exp: String(NOW_S + 60) }, 'bad_claim'],
      ['any issuer while none is configured', { iss: 'someone' }, 'accepted'],
    ])('judges %s', async (_name, overrides, expected) => {
      await expect(outcome(() => sut.claimsOf('k', claims(overrides)))).resolves.toBe(expected);
    });
  });

  describe('claimsOf, with an issuer and an audience configured', () => {
    const sut = build({ jwtIssuer: 'https://cmj.example', jwtAudience: 'warden-spi' });
    const good = { iss: 'https://cmj.example', aud: 'warden-spi' };

    it.each([
      ['the configured issuer and audience', good, 'accepted'],
      ['the audience in a list', { ...good, aud: ['x', 'warden-spi'] }, 'accepted'],
      ['no aud', { ...good, aud: undefined }, 'wrong_audience'],
      ["Warden's own names instead of the audience", { ...good, aud: 'warden' }, 'wrong_audience'],
      ['another issuer', { ...good, iss: 'https://evil.example' }, 'wrong_issuer'],
      ['no issuer', { ...good, iss: undefined }, 'wrong_issuer'],
    ])('judges %s', async (_name, overrides, expected) => {
      await expect(outcome(() => sut.claimsOf('k', claims(overrides)))).resolves.toBe(expected);
    });
  });

  describe('keyFor', () => {
    const sut = build();

    it.each([
      ['HS256', { alg: 'HS256', kid: 'k' }, claims(), 'unsupported_algorithm'],
      ['alg none', { alg: 'none', kid: 'k' }, claims(), 'unsupported_algorithm'],
      ['ES256', { alg: 'ES256', kid: 'k' }, claims(), 'unsupported_algorithm'],
      ['no kid', { alg: 'RS256' }, claims(), 'unknown_key'],
      ['an empty kid', { alg: 'RS256', kid: '' }, claims(), 'unknown_key'],
      ['a kid that is not a string', { alg: 'RS256', kid: 7 }, claims(), 'unknown_key'],
      ['an expired token', { alg: 'RS256', kid: 'k' }, claims({ exp: NOW_S - 60 }), 'expired'],
      ['another audience', { alg: 'RS256', kid: 'k' }, claims({ aud: 'other' }), 'wrong_audience'],
    ])('refuses %s before asking the Keys API', async (_name, header, payload, reason) => {
      await expect(outcome(() => sut.keyFor(decoded(header, payload)))).resolves.toBe(reason);
    });
  });
});
