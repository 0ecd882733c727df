import { JwtError } from './jws';

/** At most this much disagreement between clocks is forgiven (RFC 8725 §3.10 leaves it to us; 60 s is the cap). */
export const CLOCK_SKEW_SECONDS = 30;

export interface ClaimRules {
  issuer?: string;
  /** The token's `aud` (string or array) must contain this value. */
  audience?: string;
  requireExp?: boolean;
  /** Claims that must be present as strings (e.g. `sub`, `jti`). */
  requiredStrings?: string[];
  nowSeconds?: number;
  skewSeconds?: number;
}

const NUMERIC_DATES = ['exp', 'nbf', 'iat'] as const;
const STRINGS = ['iss', 'sub', 'jti'] as const;

/**
 * Checks the registered claims of RFC 7519 §4.1: their JSON types first (a string `exp` or an
 * object `iss` is refused rather than coerced), then time, issuer and audience.
 */
export function checkClaims(payload: Record<string, unknown>, rules: ClaimRules): void {
  checkClaimTypes(payload);
  for (const name of rules.requiredStrings ?? []) {
    if (typeof payload[name] !== 'string' || payload[name] === '') {
      throw new JwtError('bad_claim', `Claim ${name} is required`);
    }
  }
  const aud = payload.aud as string | string[] | undefined;
  const now = rules.nowSeconds ?? Math.floor(Date.now() / 1000);
  const skew = Math.min(rules.skewSeconds ?? CLOCK_SKEW_SECONDS, 60);
  const exp = payload.exp as number | undefined;
  if (exp === undefined) {
    if (rules.requireExp !== false) throw new JwtError('bad_claim', 'Claim exp is required');
  } else if (now - skew >= exp) {
    throw new JwtError('expired', 'Token has expired');
  }
  const nbf = payload.nbf as number | undefined;
  if (nbf !== undefined && nbf > now + skew)
    throw new JwtError('not_yet_valid', 'Token is not valid yet');
  const iat = payload.iat as number | undefined;
  if (iat !== undefined && iat > now + skew)
    throw new JwtError('not_yet_valid', 'Token was issued in the future');

  if (rules.issuer !== undefined && payload.iss !== rules.issuer) {
    throw new JwtError('wrong_issuer', 'Token has the wrong issuer');
  }
  if (rules.audience !== undefined) {
    const ok = Array.isArray(aud) ? aud.includes(rules.audience) : aud === rules.audience;
    if (!ok) throw new JwtError('wrong_audience', 'Token has the wrong audience');
  }
}

/**
 * The registered claims' JSON types (RFC 7519 §4.1). Every JWT flavor also checks them before
 * its key is looked up (keyProvider), since jsonwebtoken checks only the types of `exp` and `nbf`.
 */
export function checkClaimTypes(payload: Record<string, unknown>): void {
  for (const name of NUMERIC_DATES) {
    const v = payload[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new JwtError('bad_claim', `Claim ${name} must be a NumericDate`);
    }
  }
  for (const name of STRINGS) {
    if (payload[name] !== undefined && typeof payload[name] !== 'string') {
      throw new JwtError('bad_claim', `Claim ${name} must be a string`);
    }
  }
  const aud = payload.aud;
  if (
    aud !== undefined &&
    typeof aud !== 'string' &&
    !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))
  ) {
    throw new JwtError('bad_claim', 'Claim aud must be a string or an array of strings');
  }
}
