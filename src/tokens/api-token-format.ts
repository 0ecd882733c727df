import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { API_TOKEN_MARK } from '../common/credentials';

/**
 * Personal API tokens: `wdn_` + 43 base62 characters of CSPRNG output (256 bits) + a 6-character
 * base62 CRC-32 of that body. The prefix lets secret scanners find leaked tokens; the checksum
 * lets scanners and Warden reject a mistyped or made-up token without a database read.
 */
export const API_TOKEN_PREFIX = API_TOKEN_MARK;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43; // 62^43 > 2^256
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
export const API_TOKEN_LENGTH = API_TOKEN_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;
const SHAPE = new RegExp(`^${API_TOKEN_PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`);
/** Characters of the token shown back in listings: enough to tell tokens apart, nothing to guess with. */
const DISPLAY_LENGTH = API_TOKEN_PREFIX.length + 6;

export function generateApiToken(): string {
  let body = '';
  // Rejection sampling keeps every character uniform: bytes >= 248 would favour the first 8 symbols.
  while (body.length < BODY_LENGTH) {
    for (const byte of randomBytes(64)) {
      if (byte < 248 && body.length < BODY_LENGTH) body += ALPHABET[byte % 62];
    }
  }
  return API_TOKEN_PREFIX + body + checksum(body);
}

/** Prefix, length, alphabet and checksum: a token that fails here was never issued. */
export function isWellFormedApiToken(value: string): boolean {
  if (value.length !== API_TOKEN_LENGTH || !SHAPE.test(value)) return false;
  const body = value.slice(API_TOKEN_PREFIX.length, API_TOKEN_PREFIX.length + BODY_LENGTH);
  return value.slice(-CHECKSUM_LENGTH) === checksum(body);
}

/** Stored and looked up by SHA-256 only; the token itself is never kept. */
export function hashApiToken(value: string): string {
  return hash('sha256', value, 'hex');
}

export function displayPrefix(value: string): string {
  return value.slice(0, DISPLAY_LENGTH);
}

function checksum(body: string): string {
  // CRC-32 (IEEE 802.3) as zlib computes it.
  let n = crc32(Buffer.from(body, 'ascii'));
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}
