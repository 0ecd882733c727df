import type { KeyObject } from 'node:crypto';
import { BoundedCache } from '../bounded-cache';

/**
 * Compact JWS (RFC 7515): the strict decoding every JWT flavor applies before jsonwebtoken
 * verifies it (see passport-jwt.ts), the typed failures, and the check that a key fits its
 * algorithm by the KeyObject's own classification. Keys are KeyObjects built once, so
 * verification never parses PEM on the hot path.
 */
export type JwsAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'EdDSA' | 'HS256';

/** Every JWS algorithm a key may be checked against (assertKeyFits). */
export const JWS_ALGORITHMS: readonly JwsAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
  'HS256',
];

export interface JwsKey {
  alg: JwsAlgorithm;
  key: KeyObject;
  kid?: string;
}

export type JwtFailure =
  | 'malformed'
  | 'unsupported_algorithm'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_type'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'bad_claim';

export class JwtError extends Error {
  constructor(
    readonly reason: JwtFailure,
    message: string,
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

export interface JwsHeader {
  alg: string;
  typ?: string;
  kid?: string;
  [name: string]: unknown;
}

/** What the header policy reads; the signature is jsonwebtoken's to check. */
export interface DecodedJws {
  header: JwsHeader;
  payload: Record<string, unknown>;
}

/** Far above any token Warden deals in; bounds the JSON parsing an attacker can ask for. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Splits and parses a compact JWS without trusting anything in it yet. */
export function decodeJws(token: string): DecodedJws {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) {
    throw new JwtError('malformed', 'Token is not a compact JWS');
  }
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 1 || second < 0 || token.indexOf('.', second + 1) !== -1) {
    throw new JwtError('malformed', 'Token is not a compact JWS');
  }
  const h = token.slice(0, first);
  const p = token.slice(first + 1, second);
  const s = token.slice(second + 1);
  if (
    !BASE64URL.test(h) ||
    !BASE64URL.test(p) ||
    !BASE64URL.test(s) ||
    !canonical(h) ||
    !canonical(p) ||
    !canonical(s)
  ) {
    throw new JwtError('malformed', 'Token segments are not base64url');
  }
  const header = headerOf(h);
  const payload = parseObject(p);
  return { header, payload };
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether a segment is the one spelling of its bytes (RFC 4648 section 3.5): the bits of the last
 * character that encode nothing are zero, and no length leaves a lone character. Decoders ignore
 * those bits, so without this one token has up to 16 spellings, each a new text to anything that
 * remembers tokens by their text (replay checks, caches, rate-limit keys).
 */
function canonical(segment: string): boolean {
  const rest = segment.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = BASE64URL_ALPHABET.indexOf(segment[segment.length - 1]);
  return (last & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

/**
 * Headers repeat (one per signing key and kind) where payloads never do: a checked header is
 * kept, frozen, by its encoded form. Bounded, so made-up headers only push each other out.
 */
const checkedHeaders = new BoundedCache<string, JwsHeader>(256);
const MAX_CACHED_HEADER_LENGTH = 512;

function headerOf(segment: string): JwsHeader {
  const cached = checkedHeaders.get(segment);
  if (cached !== undefined) return cached;
  const header = parseObject(segment);
  if (typeof header.alg !== 'string') throw new JwtError('malformed', 'Header has no alg');
  for (const name of ['typ', 'kid'] as const) {
    if (header[name] !== undefined && typeof header[name] !== 'string') {
      throw new JwtError('malformed', `Header ${name} must be a string`);
    }
  }
  // RFC 7515 §4.1.11: extensions we do not understand make the token invalid.
  if (header.crit !== undefined) throw new JwtError('malformed', 'Unsupported critical header');
  const checked = Object.freeze(header) as JwsHeader;
  if (segment.length <= MAX_CACHED_HEADER_LENGTH) checkedHeaders.set(segment, checked);
  return checked;
}

function parseObject(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', 'Token segment is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new JwtError('malformed', 'Token segment is not a JSON object');
  }
  return value as Record<string, unknown>;
}

/**
 * Refuses a key that does not fit its algorithm, using the KeyObject's own classification
 * (never a guess from PEM text), so an RSA public key can never be used as an HMAC secret.
 */
export function assertKeyFits(key: JwsKey, use: 'sign' | 'verify'): void {
  const k = key.key;
  const fits =
    key.alg === 'HS256'
      ? k.type === 'secret' && (k.symmetricKeySize ?? 0) >= 32
      : (use === 'sign' ? k.type === 'private' : k.type === 'public' || k.type === 'private') &&
        ((((key.alg.startsWith('RS') && k.asymmetricKeyType === 'rsa') ||
          (key.alg.startsWith('PS') &&
            (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss'))) &&
          (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) ||
          (key.alg === 'ES256' &&
            k.asymmetricKeyType === 'ec' &&
            k.asymmetricKeyDetails?.namedCurve === 'prime256v1') ||
          (key.alg === 'ES384' &&
            k.asymmetricKeyType === 'ec' &&
            k.asymmetricKeyDetails?.namedCurve === 'secp384r1') ||
          (key.alg === 'EdDSA' && k.asymmetricKeyType === 'ed25519'));
  if (!fits) throw new Error(`Key does not fit ${key.alg} for ${use}`);
}
