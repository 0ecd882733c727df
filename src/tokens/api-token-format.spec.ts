import { createHash } from 'node:crypto';
import {
  API_TOKEN_LENGTH,
  API_TOKEN_PREFIX,
  displayPrefix,
  generateApiToken,
  hashApiToken,
  isWellFormedApiToken,
} from './api-token-format';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;

/** CRC-32 (IEEE 802.3, reflected, as zlib computes it), written out here rather than borrowed. */
function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'ascii')) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The documented recipe: prefix + body + the CRC-32 of the body in 6 base62 digits, most significant first. */
function assemble(body: string): string {
  let n = crc32(body);
  let sum = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    sum = ALPHABET[n % 62] + sum;
    n = Math.floor(n / 62);
  }
  return API_TOKEN_PREFIX + body + sum;
}

describe('API token format', () => {
  it('generates wdn_ tokens of API_TOKEN_LENGTH (4 + 43 + 6) characters that pass the check', () => {
    const sut = generateApiToken();
    expect(API_TOKEN_PREFIX).toBe('wdn_');
    expect(API_TOKEN_LENGTH).toBe(4 + BODY_LENGTH + CHECKSUM_LENGTH);
    expect(sut.startsWith('wdn_')).toBe(true);
    expect(sut).toHaveLength(API_TOKEN_LENGTH);
    expect(sut).toMatch(/^wdn_[0-9A-Za-z]{49}$/);
    expect(isWellFormedApiToken(sut)).toBe(true);
  });

  it('generates 1000 distinct tokens, all well formed', () => {
    const tokens = Array.from({ length: 1000 }, () => generateApiToken());
    expect(new Set(tokens).size).toBe(1000);
    expect(tokens.filter((t) => !isWellFormedApiToken(t))).toEqual([]);
  });

  it('accepts a token assembled by the documented recipe (CRC-32 of the body in base62)', () => {
    const body = 'Z'.repeat(20) + '0123456789abcdefghijklm';
    expect(body).toHaveLength(BODY_LENGTH);
    expect(isWellFormedApiToken(assemble(body))).toBe(true);
    expect(assemble(body).slice(4, 4 + BODY_LENGTH)).toBe(body);
  });

  it('rejects the token when any single character is changed, body, checksum or prefix', () => {
    const sut = generateApiToken();
    const accepted: string[] = [];
    let tried = 0;
    for (let i = 0; i < sut.length; i++) {
      for (const c of ALPHABET + 'w_') {
        if (c === sut[i]) continue;
        const mutated = sut.slice(0, i) + c + sut.slice(i + 1);
        tried++;
        if (isWellFormedApiToken(mutated)) accepted.push(`${i}:${c}`);
      }
    }
    expect(tried).toBeGreaterThan(API_TOKEN_LENGTH * 60);
    expect(accepted).toEqual([]);
  });

  it('rejects a wrong prefix', () => {
    const rest = generateApiToken().slice(4);
    for (const prefix of ['wdx_', 'WDN_', 'wdn-', 'ghp_', 'xwdn']) {
      expect(isWellFormedApiToken(prefix + rest)).toBe(false);
    }
    // Same length without any prefix at all.
    expect(isWellFormedApiToken('abcd' + rest)).toBe(false);
  });

  it('rejects a wrong length', () => {
    const sut = generateApiToken();
    expect(isWellFormedApiToken(sut.slice(0, -1))).toBe(false);
    expect(isWellFormedApiToken(sut + 'A')).toBe(false);
    expect(isWellFormedApiToken(sut.slice(0, 4) + sut.slice(5))).toBe(false);
    expect(isWellFormedApiToken('')).toBe(false);
    expect(isWellFormedApiToken('wdn_')).toBe(false);
    // A longer token whose first characters are a valid token is no token either.
    expect(isWellFormedApiToken(sut + sut)).toBe(false);
  });

  it('rejects a character outside base62, even when the length is right', () => {
    const sut = generateApiToken();
    for (const bad of ['-', '_', '+', '/', '=', ' ', '.', 'é', '\n', '\0']) {
      for (const position of [4, 20, API_TOKEN_LENGTH - 1]) {
        const mutated = sut.slice(0, position) + bad + sut.slice(position + 1);
        expect(mutated).toHaveLength(API_TOKEN_LENGTH);
        expect(isWellFormedApiToken(mutated)).toBe(false);
      }
    }
  });

  it('hashes with SHA-256, as lowercase hex', () => {
    expect(hashApiToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const sut = generateApiToken();
    expect(hashApiToken(sut)).toBe(createHash('sha256').update(sut).digest('hex'));
    expect(hashApiToken(sut)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiToken(sut)).not.toBe(hashApiToken(generateApiToken()));
  });

  it('shows the prefix and 6 characters of the token, no more', () => {
    const sut = generateApiToken();
    expect(displayPrefix(sut)).toHaveLength(4 + 6);
    expect(displayPrefix(sut)).toBe(sut.slice(0, 10));
    expect(displayPrefix(sut).startsWith('wdn_')).toBe(true);
  });

  it('draws the body uniformly from all 62 symbols', () => {
    const TOKENS = 2000;
    const counts = new Map<string, number>(Array.from(ALPHABET, (c) => [c, 0]));
    for (let i = 0; i < TOKENS; i++) {
      // The body only: the checksum digits are not uniform (2^32 < 62^6).
      for (const c of generateApiToken().slice(4, 4 + BODY_LENGTH)) {
        counts.set(c, (counts.get(c) ?? 0) + 1);
      }
    }
    expect(counts.size).toBe(62);
    const mean = (TOKENS * BODY_LENGTH) / 62; // ≈ 1387, standard deviation ≈ 37
    const values = [...counts.values()];
    // Each bound is more than 10 standard deviations away: a uniform generator never fails here.
    expect(Math.min(...values)).toBeGreaterThan(0.5 * mean);
    expect(Math.max(...values)).toBeLessThan(1.5 * mean);
    // Chi-square with 61 degrees of freedom: P(X > 200) ≈ 1e-16 for a uniform generator, while
    // plain `byte % 62` (no rejection; the first 8 symbols 25% more likely) gives about 570.
    const chiSquare = values.reduce((sum, n) => sum + (n - mean) ** 2 / mean, 0);
    expect(chiSquare).toBeLessThan(200);
  });
});
