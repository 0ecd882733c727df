import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';

/** Flips one bit of the base64url part at `index` of a sealed value. */
function flipBit(sealed: string, index: number, byte = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index], 'base64url');
  bytes[byte] ^= 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

describe('SecretBox', () => {
  let key: Buffer;
  let sut: SecretBox;

  beforeEach(() => {
    key = randomBytes(32);
    sut = new SecretBox(key);
  });

  describe('round trip', () => {
    it('opens what it sealed (string)', () => {
      const sealed = sut.seal('signing key material');

      expect(sut.openText(sealed)).toBe('signing key material');
    });

    it('opens what it sealed (Buffer)', () => {
      const plaintext = randomBytes(100);

      expect(sut.open(sut.seal(plaintext)).equals(plaintext)).toBe(true);
    });

    it('round-trips UTF-8 text', () => {
      expect(sut.openText(sut.seal('clé secrète – 秘密 🔑'))).toBe('clé secrète – 秘密 🔑');
    });

    it('round-trips an empty plaintext', () => {
      expect(sut.openText(sut.seal(''))).toBe('');
    });

    it('opens with the same context it was sealed with', () => {
      const sealed = sut.seal('tenant secret', 'tenant:42:shared-secret');

      expect(sut.openText(sealed, 'tenant:42:shared-secret')).toBe('tenant secret');
    });

    it('another instance with the same key opens the value', () => {
      const sealed = sut.seal('persisted');

      expect(new SecretBox(Buffer.from(key)).openText(sealed)).toBe('persisted');
    });

    it('produces v1.<iv>.<tag>.<ciphertext> with a 12-byte IV and a 16-byte tag', () => {
      const sealed = sut.seal('hello');
      const [version, iv, tag, body] = sealed.split('.');

      expect(sealed.split('.')).toHaveLength(4);
      expect(version).toBe('v1');
      expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
      expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
      expect(Buffer.from(body, 'base64url')).toHaveLength(5);
      expect(sealed).not.toContain('hello');
    });
  });

  it('two seals of the same text differ (random IV)', () => {
    const a = sut.seal('same text', 'ctx');
    const b = sut.seal('same text', 'ctx');

    expect(a).not.toBe(b);
    expect(a.split('.')[1]).not.toBe(b.split('.')[1]);
    expect(sut.openText(a, 'ctx')).toBe('same text');
    expect(sut.openText(b, 'ctx')).toBe('same text');
  });

  describe('refuses to open', () => {
    it('with a different context', () => {
      const sealed = sut.seal('tenant secret', 'tenant:42');

      expect(() => sut.open(sealed, 'tenant:43')).toThrow();
    });

    it('with no context when one was bound', () => {
      const sealed = sut.seal('tenant secret', 'tenant:42');

      expect(() => sut.open(sealed)).toThrow();
    });

    it('with a context when none was bound', () => {
      const sealed = sut.seal('tenant secret');

      expect(() => sut.open(sealed, 'tenant:42')).toThrow();
    });

    it('a tampered ciphertext', () => {
      const sealed = sut.seal('do not touch');

      expect(() => sut.open(flipBit(sealed, 3))).toThrow();
      expect(() => sut.open(flipBit(sealed, 3, 11))).toThrow();
    });

    it('a tampered tag', () => {
      const sealed = sut.seal('do not touch');

      expect(() => sut.open(flipBit(sealed, 2))).toThrow();
      expect(() => sut.open(flipBit(sealed, 2, 15))).toThrow();
    });

    it('a tampered IV', () => {
      const sealed = sut.seal('do not touch');

      expect(() => sut.open(flipBit(sealed, 1))).toThrow();
    });

    it('a truncated tag', () => {
      const sealed = sut.seal('do not touch');
      const parts = sealed.split('.');
      parts[2] = Buffer.from(parts[2], 'base64url').subarray(0, 8).toString('base64url');

      expect(() => sut.open(parts.join('.'))).toThrow();
    });

    it('a truncated ciphertext', () => {
      const sealed = sut.seal('do not touch');
      const parts = sealed.split('.');
      parts[3] = Buffer.from(parts[3], 'base64url').subarray(0, 4).toString('base64url');

      expect(() => sut.open(parts.join('.'))).toThrow();
    });

    it('with a wrong key', () => {
      const sealed = sut.seal('do not touch');
      const other = new SecretBox(randomBytes(32));

      expect(() => other.open(sealed)).toThrow();
    });

    it.each([
      ['another version', (s: string) => s.replace(/^v1\./, 'v2.')],
      ['a missing part', (s: string) => s.split('.').slice(0, 3).join('.')],
      ['an empty IV', (s: string) => s.replace(/^v1\.[^.]+\./, 'v1..')],
      ['plain text', () => 'not sealed at all'],
    ])('a value with %s', (_name, mangle) => {
      const sealed = sut.seal('x');

      expect(() => sut.open(mangle(sealed))).toThrow();
    });
  });

  describe('constructor', () => {
    it.each([0, 16, 24, 31, 33, 64])('refuses a %d-byte key', (length) => {
      expect(() => new SecretBox(randomBytes(length))).toThrow('32-byte key');
    });

    it('accepts a 32-byte key', () => {
      expect(() => new SecretBox(randomBytes(32))).not.toThrow();
    });
  });
});
