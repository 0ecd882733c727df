import { createPublicKey, KeyObject, X509Certificate } from 'node:crypto';

/**
 * The CMJ Keys API answers `{"publicKey": "<Base64 DER>"}`: an X.509 SubjectPublicKeyInfo, or a
 * whole DER certificate (whose public key is taken). Anything else is not a key.
 */
export function parseCmjKey(text: string): KeyObject {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('The Keys API did not answer JSON');
  }
  const encoded = (body as { publicKey?: unknown } | null)?.publicKey;
  if (typeof encoded !== 'string' || !/^[A-Za-z0-9+/=\s]+$/.test(encoded))
    throw new Error('The Keys API answered no Base64 publicKey');
  const der = Buffer.from(encoded.replace(/\s+/g, ''), 'base64');
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    // Not a SubjectPublicKeyInfo: a DER certificate is accepted too.
    try {
      return new X509Certificate(der).publicKey;
    } catch {
      throw new Error('The publicKey is neither a DER SubjectPublicKeyInfo nor a certificate');
    }
  }
}
