import type { KeyObject } from 'node:crypto';
import { JsonWebTokenError, NotBeforeError, TokenExpiredError } from 'jsonwebtoken';
import type { SecretOrKeyProvider } from 'passport-jwt';
import { checkClaimTypes } from './claims';
import { decodeJws, DecodedJws, JwtError, JwtFailure } from './jws';

/** What passport-jwt hands `validate()` with `complete: true`: the verified header and payload. */
export interface VerifiedJwt {
  header: { alg: string; typ?: string; kid?: string; [name: string]: unknown };
  payload: Record<string, unknown>;
}

/**
 * jsonwebtoken options every JWT flavor shares. Times are judged by each kind's `validate()`
 * with the application's clock (checkClaims: `exp` required, `nbf` and `iat` with the skew cap),
 * so that tests and the CLI can move time; jsonwebtoken does the signature, the algorithm
 * allow-list, the key's fit to the algorithm, and `iss` / `aud` where a kind pins one value.
 */
export const JWT_VERIFY_OPTIONS = Object.freeze({
  complete: true,
  ignoreNotBefore: true,
});

/**
 * passport-jwt's key provider for one kind: the header policy first (decodeJws), then the
 * kind's own key lookup, which gets the token decoded but not yet trusted.
 *
 * The header policy is what jsonwebtoken does not check and the attack corpus needs: each
 * segment is base64url's one spelling of its bytes (RFC 4648 §3.5), so a token cannot be
 * respelled into a new one; `crit` is refused (RFC 7515 §4.1.11); `typ` and `kid` are strings;
 * the registered claims have their registered JSON types (jsonwebtoken checks `exp` and `nbf`).
 * `jku`, `x5u` and `jwk` are never read, and `kid` is only ever a lookup key into a source the
 * operator configured (RFC 8725 §3.10).
 */
export function keyProvider<R>(
  lookup: (decoded: DecodedJws, request: R) => KeyObject | Promise<KeyObject>,
): SecretOrKeyProvider<R> {
  return (request, rawJwtToken, done) => {
    const answer = (err: unknown, key?: KeyObject) =>
      (done as (err: unknown, key?: KeyObject) => void)(err, key);
    let found: KeyObject | Promise<KeyObject>;
    try {
      const decoded = decodeJws(rawJwtToken as string);
      checkClaimTypes(decoded.payload);
      found = lookup(decoded, request);
    } catch (err) {
      return answer(err);
    }
    if (found instanceof Promise) found.then((key) => answer(null, key), answer);
    else answer(null, found);
  };
}

/**
 * The algorithm comes from the key, never from the token (RFC 8725 §3.1): a key provider calls
 * this before handing a key to jsonwebtoken, whose own `algorithms` list is the kind's allow-list.
 */
export function assertAlgorithmOfKey(decoded: DecodedJws, keyAlgorithm: string): void {
  if (decoded.header.alg !== keyAlgorithm)
    throw new JwtError('unsupported_algorithm', `Algorithm ${decoded.header.alg} is not accepted`);
}

/** jsonwebtoken's failures as the typed ones the rest of Warden answers with (never its texts). */
const FAILURES: [RegExp, JwtFailure, string][] = [
  [/^invalid signature$/, 'bad_signature', 'Signature does not verify'],
  [/^jwt audience invalid/, 'wrong_audience', 'Token has the wrong audience'],
  [/^jwt issuer invalid/, 'wrong_issuer', 'Token has the wrong issuer'],
  [/^(jwt malformed|invalid token|jwt must be)/, 'malformed', 'Token is not a compact JWS'],
  [
    /^(invalid algorithm|jwt signature is required|please specify "none"|secretOrPublicKey must be)/,
    'unsupported_algorithm',
    'The token names an algorithm that is not accepted',
  ],
  [/^(invalid (nbf|exp) value|jwt (subject|jwtid) invalid)/, 'bad_claim', 'A claim is not valid'],
];

/** jsonwebtoken's validateAsymmetricKey refusals (plain Errors). */
const KEY_MISFIT = /^(Unknown key type|"alg" parameter|Invalid key for this operation)/;

/**
 * What a strategy failed with, as a JwtError where it came from the JWT itself: jsonwebtoken's
 * errors, passport-jwt's "No auth token", and a key that does not fit the token's algorithm.
 * Domain errors (a 503 from a key source) and JwtErrors pass unchanged.
 */
export function asJwtError(err: unknown): unknown {
  if (err instanceof JwtError) return err;
  if (err instanceof TokenExpiredError) return new JwtError('expired', 'Token has expired');
  if (err instanceof NotBeforeError) return new JwtError('not_yet_valid', 'Token is not valid yet');
  if (err instanceof JsonWebTokenError) {
    for (const [pattern, reason, message] of FAILURES)
      if (pattern.test(err.message)) return new JwtError(reason, message);
    return new JwtError('malformed', 'Token is not valid');
  }
  if (err instanceof Error && err.message === 'No auth token')
    return new JwtError('malformed', 'No token in the request');
  // jsonwebtoken's key checks throw plain Errors: the key does not fit the token's algorithm.
  if (err instanceof Error && KEY_MISFIT.test(err.message))
    return new JwtError('unsupported_algorithm', 'The token does not fit the key it names');
  return err;
}
