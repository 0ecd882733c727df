/**
 * What an identity provider's token may be signed with: RSA PKCS#1, RSA-PSS and ECDSA. Never
 * HMAC (its secret would be shared with the IdP and every other client), never `none`; EdDSA is
 * left out because jsonwebtoken, which verifies the signature, has none.
 */
export const EXTERNAL_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
] as const;

export type ExternalAlgorithm = (typeof EXTERNAL_ALGORITHMS)[number];
