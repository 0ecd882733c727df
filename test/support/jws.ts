import {
  constants,
  createHmac,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
} from 'node:crypto';
import { decodeJws, JwsAlgorithm, JwsKey, JwtError } from '../../src/common/jwt/jws';

/**
 * Compact JWS signing and checking over node:crypto, for the tests: the simulated parties
 * (Atlassian, CMJ, identity providers) and the attack corpus, which needs tokens no library
 * would make. Warden itself signs and verifies with jsonwebtoken.
 */
const DIGEST: Record<Exclude<JwsAlgorithm, 'EdDSA' | 'HS256'>, string> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
};
/** ECDSA signatures are raw r||s of twice the curve's size (RFC 7518 §3.4). */
const ECDSA_SIGNATURE_BYTES: Partial<Record<JwsAlgorithm, number>> = { ES256: 64, ES384: 96 };

/** A compact JWS's signature bytes. */
export function signatureOf(token: string): Buffer {
  return Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
}

/** Checks a token's signature with the given key; the header must name exactly the key's algorithm. */
export function verifyJwsSignature(token: string, key: JwsKey): void {
  const { header } = decodeJws(token);
  if (header.alg !== key.alg) {
    throw new JwtError('unsupported_algorithm', `Algorithm ${header.alg} is not accepted`);
  }
  const input = Buffer.from(token.slice(0, token.lastIndexOf('.')), 'ascii');
  const signature = signatureOf(token);
  let valid = false;
  try {
    switch (key.alg) {
      case 'RS256':
      case 'RS384':
      case 'RS512':
        valid = cryptoVerify(DIGEST[key.alg], input, key.key, signature);
        break;
      case 'PS256':
      case 'PS384':
      case 'PS512':
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
        valid = cryptoVerify(
          DIGEST[key.alg],
          input,
          {
            key: key.key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          },
          signature,
        );
        break;
      case 'ES256':
      case 'ES384':
        // JWS carries the raw r||s form (RFC 7518 §3.4), not DER.
        valid =
          signature.length === ECDSA_SIGNATURE_BYTES[key.alg] &&
          cryptoVerify(
            DIGEST[key.alg],
            input,
            { key: key.key, dsaEncoding: 'ieee-p1363' },
            signature,
          );
        break;
      case 'EdDSA':
        valid = cryptoVerify(null, input, key.key, signature);
        break;
      case 'HS256': {
        const expected = createHmac('sha256', key.key).update(input).digest();
        valid = expected.length === signature.length && timingSafeEqual(expected, signature);
        break;
      }
    }
  } catch {
    // A key restricted to other parameters (an RSA-PSS key's hash) makes node:crypto throw.
    valid = false;
  }
  if (!valid) throw new JwtError('bad_signature', 'Signature does not verify');
}

/** Signs a compact JWS; `alg` (and `kid` when the key has one) are set from the key. */
export function signJws(header: Record<string, unknown>, payload: object, key: JwsKey): string {
  const fullHeader = { ...header, alg: key.alg, ...(key.kid ? { kid: key.kid } : {}) };
  const input =
    Buffer.from(JSON.stringify(fullHeader)).toString('base64url') +
    '.' +
    Buffer.from(JSON.stringify(payload)).toString('base64url');
  const data = Buffer.from(input, 'ascii');
  let signature: Buffer;
  switch (key.alg) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
      signature = cryptoSign(DIGEST[key.alg], data, key.key);
      break;
    case 'PS256':
    case 'PS384':
    case 'PS512':
      signature = cryptoSign(DIGEST[key.alg], data, {
        key: key.key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
      break;
    case 'ES256':
    case 'ES384':
      signature = cryptoSign(DIGEST[key.alg], data, { key: key.key, dsaEncoding: 'ieee-p1363' });
      break;
    case 'EdDSA':
      signature = cryptoSign(null, data, key.key);
      break;
    case 'HS256':
      signature = createHmac('sha256', key.key).update(data).digest();
      break;
  }
  return `${input}.${signature.toString('base64url')}`;
}
