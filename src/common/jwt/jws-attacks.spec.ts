import { createHmac, createSecretKey, randomBytes, sign as cryptoSign } from 'node:crypto';
import { assertKeyFits, decodeJws, JWS_ALGORITHMS, JwsAlgorithm, JwsKey } from './jws';
import { signJws } from '../../../test/support/jws';
import {
  failureOf,
  jwsTestKeys,
  KeyPair,
  KeyPairEntry,
  PAYLOAD,
  segment,
  verifyToken,
} from '../../../test/support/jws-keys';

describe('jws: forged and mismatched tokens', () => {
  let rsa: KeyPair;
  let ec: KeyPair;
  let entries: Record<JwsAlgorithm, KeyPairEntry>;

  beforeAll(() => {
    ({ rsa, ec, entries } = jwsTestKeys());
  });

  const ALGORITHMS = JWS_ALGORITHMS;

  describe('alg none', () => {
    const p = segment(PAYLOAD);

    it.each(['none', 'None', 'NONE'])(
      'refuses an unsigned token with header {"alg":"%s"} and an empty signature',
      (alg) => {
        const token = `${segment({ alg })}.${p}.`;

        expect(failureOf(() => decodeJws(token))).toBe('malformed');
      },
    );

    it.each(ALGORITHMS)(
      'refuses an alg none token carrying some signature bytes against the %s key as unsupported_algorithm',
      (alg) => {
        const token = `${segment({ alg: 'none' })}.${p}.${randomBytes(32).toString('base64url')}`;

        expect(failureOf(() => verifyToken(token, entries[alg].verifying))).toBe(
          'unsupported_algorithm',
        );
      },
    );
  });

  describe('key confusion (RS256 public key used as an HS256 secret)', () => {
    function forgeHs256(hmacSecret: Buffer | string, header: Record<string, unknown> = {}): string {
      const input = `${segment({ ...header, alg: 'HS256', typ: 'JWT' })}.${segment({
        ...PAYLOAD,
        sub: 'admin',
      })}`;
      const mac = createHmac('sha256', hmacSecret).update(input).digest('base64url');
      return `${input}.${mac}`;
    }

    it('the forgery with the SPKI PEM text is a real HMAC over the public key (sanity check)', () => {
      const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
      const token = forgeHs256(pem);
      const naive: JwsKey = { alg: 'HS256', key: createSecretKey(Buffer.from(pem)) };

      // A verifier that took its algorithm from the token would accept this.
      expect(failureOf(() => verifyToken(token, naive))).toBeUndefined();
    });

    it.each<[string, () => Buffer | string]>([
      ['SPKI PEM text', () => rsa.publicKey.export({ type: 'spki', format: 'pem' })],
      ['PKCS#1 PEM text', () => rsa.publicKey.export({ type: 'pkcs1', format: 'pem' })],
      ['SPKI DER', () => rsa.publicKey.export({ type: 'spki', format: 'der' })],
      ['PKCS#1 DER', () => rsa.publicKey.export({ type: 'pkcs1', format: 'der' })],
    ])(
      'refuses an HS256 token keyed with the RSA public key %s against the RS256 entry',
      (_name, material) => {
        const token = forgeHs256(material());

        expect(failureOf(() => verifyToken(token, entries.RS256.verifying))).toBe(
          'unsupported_algorithm',
        );
        expect(
          failureOf(() => verifyToken(token, { ...entries.RS256.verifying, kid: 'rsa-1' })),
        ).toBe('unsupported_algorithm');
      },
    );

    it('refuses the forgery even when it names the RS256 key by kid', () => {
      const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
      const token = forgeHs256(pem, { kid: 'rsa-1' });

      expect(
        failureOf(() => verifyToken(token, { alg: 'RS256', key: rsa.publicKey, kid: 'rsa-1' })),
      ).toBe('unsupported_algorithm');
    });

    it('assertKeyFits refuses to use the RSA public key as an HS256 key', () => {
      expect(() => assertKeyFits({ alg: 'HS256', key: rsa.publicKey }, 'verify')).toThrow();
    });
  });

  describe('header alg must equal the key alg', () => {
    const pairs: [JwsAlgorithm, JwsAlgorithm][] = [];
    for (const signed of ALGORITHMS) {
      for (const expected of ALGORITHMS) if (signed !== expected) pairs.push([signed, expected]);
    }

    it.each(pairs)('a %s token is refused by the %s key entry', (signed, expected) => {
      const token = signJws({}, PAYLOAD, entries[signed].signing);

      expect(failureOf(() => verifyToken(token, entries[expected].verifying))).toBe(
        'unsupported_algorithm',
      );
    });

    it.each(['rs256', 'RS384', 'PS256', 'RS256 ', 'ES256K'])(
      'a header alg of %j is refused by the RS256 entry',
      (alg) => {
        const valid = signJws({}, PAYLOAD, entries.RS256.signing);
        const [, p, s] = valid.split('.');
        const token = `${segment({ alg })}.${p}.${s}`;

        expect(failureOf(() => verifyToken(token, entries.RS256.verifying))).toBe(
          'unsupported_algorithm',
        );
      },
    );
  });

  describe('ES256 signature length', () => {
    function es256Input(): string {
      return `${segment({ alg: 'ES256' })}.${segment(PAYLOAD)}`;
    }

    it('refuses a DER-encoded ECDSA signature that is itself valid', () => {
      const input = es256Input();
      const der = cryptoSign('sha256', Buffer.from(input), ec.privateKey); // default DER encoding
      const token = `${input}.${der.toString('base64url')}`;

      expect(der.length).not.toBe(64);
      expect(failureOf(() => verifyToken(token, entries.ES256.verifying))).toBe('bad_signature');
    });

    it.each([63, 65, 32, 128])('refuses a %d-byte signature', (length) => {
      const input = es256Input();
      const raw = cryptoSign('sha256', Buffer.from(input), {
        key: ec.privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      const sig =
        length <= raw.length
          ? raw.subarray(0, length)
          : Buffer.concat([raw, Buffer.alloc(length - raw.length)]);
      const token = `${input}.${sig.toString('base64url')}`;

      expect(failureOf(() => verifyToken(token, entries.ES256.verifying))).toBe('bad_signature');
    });
  });

  describe('HS256 signature length', () => {
    it('refuses a truncated HMAC as bad_signature', () => {
      const token = signJws({}, PAYLOAD, entries.HS256.signing);
      const [h, p, s] = token.split('.');
      const truncated = Buffer.from(s, 'base64url').subarray(0, 16).toString('base64url');

      expect(failureOf(() => verifyToken(`${h}.${p}.${truncated}`, entries.HS256.verifying))).toBe(
        'bad_signature',
      );
    });
  });
});
