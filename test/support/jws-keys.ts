import { createSecretKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { JwsAlgorithm, JwsKey, JwtError, JwtFailure } from '../../src/common/jwt/jws';
import { verifyJwsSignature } from './jws';

/** The reason of the JwtError thrown by `fn`, or undefined when it does not throw. */
export function failureOf(fn: () => unknown): JwtFailure | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof JwtError) return err.reason;
    throw err;
  }
  return undefined;
}

export function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function rawSegment(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export function verifyToken(token: string, key: JwsKey): void {
  verifyJwsSignature(token, key);
}

export interface KeyPairEntry {
  signing: JwsKey;
  verifying: JwsKey;
}

export type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };

export const PAYLOAD = { sub: 'user-1', iss: 'https://warden.example', exp: 2_000_000_000 };

/** Keys of every kind the JWS code meets, each with a second one of the same kind. */
export interface JwsTestKeys {
  rsa: KeyPair;
  otherRsa: KeyPair;
  rsa1024: KeyPair;
  ec: KeyPair;
  otherEc: KeyPair;
  p384: KeyPair;
  ed: KeyPair;
  otherEd: KeyPair;
  secret: KeyObject;
  otherSecret: KeyObject;
  /** Signing and verifying key per algorithm. */
  entries: Record<JwsAlgorithm, KeyPairEntry>;
  /** The same, with keys that did not sign. */
  otherEntries: Record<JwsAlgorithm, KeyPairEntry>;
}

export function jwsTestKeys(): JwsTestKeys {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const otherEc = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const ed = generateKeyPairSync('ed25519');
  const otherEd = generateKeyPairSync('ed25519');
  const secret = createSecretKey(randomBytes(32));
  const otherSecret = createSecretKey(randomBytes(32));
  const pair = (alg: JwsAlgorithm, priv: KeyObject, pub: KeyObject): KeyPairEntry => ({
    signing: { alg, key: priv },
    verifying: { alg, key: pub },
  });
  const otherP384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const rsaFamily = (keys: KeyPair) =>
    Object.fromEntries(
      (['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const).map((alg) => [
        alg,
        pair(alg, keys.privateKey, keys.publicKey),
      ]),
    );
  const entriesOf = (
    rsaKeys: KeyPair,
    es256: KeyPair,
    es384: KeyPair,
    eddsa: KeyPair,
    hs: KeyObject,
  ) =>
    ({
      ...rsaFamily(rsaKeys),
      ES256: pair('ES256', es256.privateKey, es256.publicKey),
      ES384: pair('ES384', es384.privateKey, es384.publicKey),
      EdDSA: pair('EdDSA', eddsa.privateKey, eddsa.publicKey),
      HS256: pair('HS256', hs, hs),
    }) as Record<JwsAlgorithm, KeyPairEntry>;
  const entries = entriesOf(rsa, ec, p384, ed, secret);
  const otherEntries = entriesOf(otherRsa, otherEc, otherP384, otherEd, otherSecret);
  return {
    rsa,
    otherRsa,
    rsa1024,
    ec,
    otherEc,
    p384,
    ed,
    otherEd,
    secret,
    otherSecret,
    entries,
    otherEntries,
  };
}
