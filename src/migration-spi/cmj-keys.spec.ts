import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retryAfterMs } from './operations/operations-api.client';
import { parseCmjKey } from './cmj-keys';

describe('parseCmjKey', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ format: 'der', type: 'spki' });

  it('loads Base64 DER SubjectPublicKeyInfo', () => {
    const key = parseCmjKey(JSON.stringify({ publicKey: spki.toString('base64') }));
    expect(key.type).toBe('public');
    expect(key.export({ format: 'der', type: 'spki' }).equals(spki)).toBe(true);
  });

  it('loads the public key of a Base64 DER certificate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmj-cert-'));
    try {
      const run = spawnSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-subj',
          '/CN=cmj',
          '-days',
          '1',
          '-keyout',
          join(dir, 'key.pem'),
          '-outform',
          'DER',
          '-out',
          join(dir, 'cert.der'),
        ],
        { encoding: 'utf8' },
      );
      expect(run.status).toBe(0);
      const der = readFileSync(join(dir, 'cert.der'));
      const key = parseCmjKey(JSON.stringify({ publicKey: der.toString('base64') }));
      expect(key.type).toBe('public');
      expect(key.asymmetricKeyType).toBe('rsa');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['not JSON', 'publicKey'],
    ['no publicKey', JSON.stringify({ key: spki.toString('base64') })],
    ['a number', JSON.stringify({ publicKey: 5 })],
    ['PEM text', JSON.stringify({ publicKey: publicKey.export({ format: 'pem', type: 'spki' }) })],
    [
      'Base64 of nothing useful',
      JSON.stringify({ publicKey: Buffer.from('hello').toString('base64') }),
    ],
  ])('refuses %s', (_name, text) => {
    expect(() => parseCmjKey(text as string)).toThrow();
  });
});

describe('retryAfterMs (RFC 9110 §10.2.3)', () => {
  it('reads delay-seconds and an HTTP-date, and nothing else', () => {
    const now = Date.parse('2026-11-22T12:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Sun, 22 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Sun, 22 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeNull();
    expect(retryAfterMs(null, now)).toBeNull();
    expect(retryAfterMs('-1', now)).toBeNull();
  });
});
