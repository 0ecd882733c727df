import { createSecretKey, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { assertKeyFits, decodeJws, JWS_ALGORITHMS, JwsAlgorithm, MAX_TOKEN_LENGTH } from './jws';
// Warden verifies with jsonwebtoken; signJws's round trip is checked with the tests' own verifier.
import { signatureOf, signJws, verifyJwsSignature } from '../../../test/support/jws';
import {
  failureOf,
  jwsTestKeys,
  KeyPair,
  KeyPairEntry,
  PAYLOAD,
  rawSegment,
  segment,
  verifyToken,
} from '../../../test/support/jws-keys';

describe('jws', () => {
  let entries: Record<JwsAlgorithm, KeyPairEntry>;
  let otherEntries: Record<JwsAlgorithm, KeyPairEntry>;
  let rsa: KeyPair;
  let rsa1024: KeyPair;
  let ec: KeyPair;
  let p384: KeyPair;
  let ed: KeyPair;
  let secret: KeyObject;

  beforeAll(() => {
    ({ entries, otherEntries, rsa, rsa1024, ec, p384, ed, secret } = jwsTestKeys());
  });

  const ALGORITHMS = JWS_ALGORITHMS;

  describe('signJws / verifyJwsSignature round trip', () => {
    it.each(ALGORITHMS)('%s: a signed token verifies with the matching key', (alg) => {
      const token = signJws({ typ: 'JWT' }, PAYLOAD, entries[alg].signing);

      const decoded = decodeJws(token);

      expect(decoded.header).toEqual({ typ: 'JWT', alg });
      expect(decoded.payload).toEqual(PAYLOAD);
      expect(() => verifyJwsSignature(token, entries[alg].verifying)).not.toThrow();
    });

    it.each(ALGORITHMS)('%s: a token signed by another key is refused as bad_signature', (alg) => {
      const token = signJws({}, PAYLOAD, otherEntries[alg].signing);

      expect(failureOf(() => verifyToken(token, entries[alg].verifying))).toBe('bad_signature');
    });

    it.each(ALGORITHMS)('%s: a tampered payload is refused as bad_signature', (alg) => {
      const token = signJws({}, PAYLOAD, entries[alg].signing);
      const [h, , s] = token.split('.');
      const forged = `${h}.${segment({ ...PAYLOAD, sub: 'admin' })}.${s}`;

      expect(failureOf(() => verifyToken(forged, entries[alg].verifying))).toBe('bad_signature');
    });

    it.each(ALGORITHMS)('%s: a tampered header is refused as bad_signature', (alg) => {
      const token = signJws({ typ: 'JWT' }, PAYLOAD, entries[alg].signing);
      const [, p, s] = token.split('.');
      const forged = `${segment({ typ: 'at+jwt', alg })}.${p}.${s}`;

      expect(failureOf(() => verifyToken(forged, entries[alg].verifying))).toBe('bad_signature');
    });

    it('RS256 verifies with the private key entry as well as the public one', () => {
      const token = signJws({}, PAYLOAD, entries.RS256.signing);

      expect(() => verifyToken(token, entries.RS256.signing)).not.toThrow();
    });

    it('signJws sets alg from the key, overriding an alg in the given header', () => {
      const token = signJws({ alg: 'none', typ: 'JWT' }, PAYLOAD, entries.ES256.signing);

      expect(decodeJws(token).header.alg).toBe('ES256');
      expect(() => verifyToken(token, entries.ES256.verifying)).not.toThrow();
    });

    it('signJws sets kid from the key when it has one, and keeps the header kid otherwise', () => {
      const withKeyKid = signJws({ kid: 'from-header' }, PAYLOAD, {
        ...entries.EdDSA.signing,
        kid: 'from-key',
      });
      const withoutKeyKid = signJws({ kid: 'from-header' }, PAYLOAD, entries.EdDSA.signing);

      expect(decodeJws(withKeyKid).header.kid).toBe('from-key');
      expect(decodeJws(withoutKeyKid).header.kid).toBe('from-header');
    });

    it('ES256 signatures are the 64-byte raw r||s form', () => {
      const token = signJws({}, PAYLOAD, entries.ES256.signing);

      expect(signatureOf(token)).toHaveLength(64);
    });
  });

  describe('decodeJws', () => {
    it('splits a token into its header and payload', () => {
      const h = segment({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
      const p = segment({ sub: 'x' });
      const sig = randomBytes(32);
      const token = `${h}.${p}.${sig.toString('base64url')}`;

      const decoded = decodeJws(token);

      expect(decoded.header).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
      expect(decoded.payload).toEqual({ sub: 'x' });
    });

    const h = segment({ alg: 'RS256' });
    const p = segment({ sub: 'x' });
    const s = randomBytes(16).toString('base64url');

    it.each<[string, string]>([
      ['two segments', `${h}.${p}`],
      ['four segments', `${h}.${p}.${s}.${s}`],
      ['one segment', h],
      ['empty header segment', `.${p}.${s}`],
      ['empty payload segment', `${h}..${s}`],
      ['empty signature segment', `${h}.${p}.`],
      ['base64 padding in a segment', `${h}=.${p}.${s}`],
      ['"+" in the payload segment', `${h}.${p}+.${s}`],
      ['"/" in the signature segment', `${h}.${p}.${s}/`],
      ['whitespace in the token', `${h}.${p} .${s}`],
      ['a header that is not JSON', `${rawSegment('{alg:RS256}')}.${p}.${s}`],
      ['a payload that is not JSON', `${h}.${rawSegment('sub=x')}.${s}`],
      ['a JSON array payload', `${h}.${segment([{ sub: 'x' }])}.${s}`],
      ['a JSON null payload', `${h}.${segment(null)}.${s}`],
      ['a JSON string payload', `${h}.${segment('sub')}.${s}`],
      ['a JSON array header', `${segment(['RS256'])}.${p}.${s}`],
      ['a header without alg', `${segment({ typ: 'JWT' })}.${p}.${s}`],
      ['a header whose alg is not a string', `${segment({ alg: 256 })}.${p}.${s}`],
      ['a crit header', `${segment({ alg: 'RS256', crit: ['exp'], exp: 1 })}.${p}.${s}`],
      ['a crit header that is empty', `${segment({ alg: 'RS256', crit: [] })}.${p}.${s}`],
      ['a kid that is a number', `${segment({ alg: 'RS256', kid: 7 })}.${p}.${s}`],
      ['a kid that is an object', `${segment({ alg: 'RS256', kid: { id: 'k' } })}.${p}.${s}`],
      ['a typ that is not a string', `${segment({ alg: 'RS256', typ: ['JWT'] })}.${p}.${s}`],
    ])('refuses %s as malformed', (_name, token) => {
      expect(failureOf(() => decodeJws(token))).toBe('malformed');
    });

    it('refuses a segment spelled with unused bits set: one token has one spelling', () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      // 16 bytes: 22 characters, the last carrying 2 bits; 32 bytes: 43, the last carrying 4.
      for (const bytes of [16, 32]) {
        const sig = Buffer.alloc(bytes, 0xa5).toString('base64url');
        const last = alphabet.indexOf(sig.at(-1)!);
        const respelled = sig.slice(0, -1) + alphabet[last + 1];
        expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
        expect(failureOf(() => decodeJws(`${h}.${p}.${sig}`))).toBeUndefined();
        expect(failureOf(() => decodeJws(`${h}.${p}.${respelled}`))).toBe('malformed');
      }
      // The same in the header and the payload, and a length no bytes have.
      const header = segment({ alg: 'RS256', kid: 'k' });
      const respelledHeader = header.slice(0, -1) + alphabet[alphabet.indexOf(header.at(-1)!) + 1];
      expect(header.length % 4).not.toBe(0);
      expect(failureOf(() => decodeJws(`${header}.${p}.${s}`))).toBeUndefined();
      expect(failureOf(() => decodeJws(`${respelledHeader}.${p}.${s}`))).toBe('malformed');
      expect((s + 'AAA').length % 4).toBe(1);
      expect(failureOf(() => decodeJws(`${h}.${p}.${s}AAA`))).toBe('malformed');
    });

    it('accepts the canonical spelling of signatures of every length', () => {
      for (let bytes = 1; bytes <= 66; bytes++) {
        const sig = randomBytes(bytes);
        expect(
          failureOf(() => decodeJws(`${h}.${p}.${sig.toString('base64url')}`)),
        ).toBeUndefined();
      }
    });

    it('refuses a malformed header every time it comes, not only the first', () => {
      const bad = `${segment({ alg: 'RS256', kid: 7 })}.${p}.${s}`;

      expect([1, 2, 3].map(() => failureOf(() => decodeJws(bad)))).toEqual([
        'malformed',
        'malformed',
        'malformed',
      ]);
    });

    it('hands out a repeated header frozen, so no caller can change what the next one reads', () => {
      const first = decodeJws(`${h}.${p}.${s}`);
      const again = decodeJws(`${h}.${segment({ sub: 'y' })}.${s}`);

      expect(again.header).toEqual({ alg: 'RS256' });
      expect(Object.isFrozen(again.header)).toBe(true);
      expect(() => {
        (first.header as { alg: string }).alg = 'none';
      }).toThrow(TypeError);
      expect(again.payload).toEqual({ sub: 'y' });
    });

    it('refuses a value that is not a string as malformed', () => {
      expect(failureOf(() => decodeJws(undefined as unknown as string))).toBe('malformed');
      expect(failureOf(() => decodeJws({} as unknown as string))).toBe('malformed');
    });

    it('accepts a token of exactly MAX_TOKEN_LENGTH and refuses one character more', () => {
      const prefix = `${h}.${p}.`;
      const atLimit = prefix + 'A'.repeat(MAX_TOKEN_LENGTH - prefix.length);
      const overLimit = atLimit + 'A';

      expect(atLimit).toHaveLength(MAX_TOKEN_LENGTH);
      expect(failureOf(() => decodeJws(atLimit))).toBeUndefined();
      expect(failureOf(() => decodeJws(overLimit))).toBe('malformed');
    });

    it('refuses a genuinely signed token whose payload makes it longer than MAX_TOKEN_LENGTH', () => {
      const token = signJws({}, { pad: 'x'.repeat(MAX_TOKEN_LENGTH) }, entries.HS256.signing);

      expect(token.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
      expect(failureOf(() => decodeJws(token))).toBe('malformed');
    });
  });

  describe('assertKeyFits', () => {
    it.each(ALGORITHMS)(
      'accepts the %s private/secret key for sign and public key for verify',
      (alg) => {
        expect(() => assertKeyFits(entries[alg].signing, 'sign')).not.toThrow();
        expect(() => assertKeyFits(entries[alg].verifying, 'verify')).not.toThrow();
      },
    );

    it('accepts a private key for verify', () => {
      expect(() => assertKeyFits({ alg: 'RS256', key: rsa.privateKey }, 'verify')).not.toThrow();
    });

    it('refuses an RSA 1024-bit key for RS256, to sign or to verify', () => {
      expect(() => assertKeyFits({ alg: 'RS256', key: rsa1024.privateKey }, 'sign')).toThrow();
      expect(() => assertKeyFits({ alg: 'RS256', key: rsa1024.publicKey }, 'verify')).toThrow();
    });

    it('refuses a P-384 key for ES256', () => {
      expect(() => assertKeyFits({ alg: 'ES256', key: p384.privateKey }, 'sign')).toThrow();
      expect(() => assertKeyFits({ alg: 'ES256', key: p384.publicKey }, 'verify')).toThrow();
    });

    it.each<JwsAlgorithm>(['RS256', 'ES256', 'EdDSA'])(
      'refuses a %s public key for sign',
      (alg) => {
        expect(() => assertKeyFits(entries[alg].verifying, 'sign')).toThrow();
      },
    );

    it('refuses a 16-byte secret for HS256', () => {
      const short = createSecretKey(randomBytes(16));

      expect(() => assertKeyFits({ alg: 'HS256', key: short }, 'sign')).toThrow();
      expect(() => assertKeyFits({ alg: 'HS256', key: short }, 'verify')).toThrow();
    });

    it('refuses a 31-byte secret for HS256', () => {
      expect(() =>
        assertKeyFits({ alg: 'HS256', key: createSecretKey(randomBytes(31)) }, 'verify'),
      ).toThrow();
    });

    it('refuses an RSA public or private key for HS256', () => {
      expect(() => assertKeyFits({ alg: 'HS256', key: rsa.publicKey }, 'verify')).toThrow();
      expect(() => assertKeyFits({ alg: 'HS256', key: rsa.privateKey }, 'sign')).toThrow();
    });

    it('refuses a secret key for the asymmetric algorithms', () => {
      for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
        expect(() => assertKeyFits({ alg, key: secret }, 'verify')).toThrow();
      }
    });

    it('refuses keys of the wrong family', () => {
      expect(() => assertKeyFits({ alg: 'RS256', key: ec.publicKey }, 'verify')).toThrow();
      expect(() => assertKeyFits({ alg: 'ES256', key: ed.publicKey }, 'verify')).toThrow();
      expect(() => assertKeyFits({ alg: 'EdDSA', key: rsa.publicKey }, 'verify')).toThrow();
      const ed448 = generateKeyPairSync('ed448');
      expect(() => assertKeyFits({ alg: 'EdDSA', key: ed448.publicKey }, 'verify')).toThrow();
    });
  });
});
