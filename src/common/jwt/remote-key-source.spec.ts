import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { JwtError } from './jws';
import { RemoteKeySource } from './remote-key-source';

/** A key server answering `/{kid}` with a PEM public key for the kids it holds, 404 otherwise. */
describe('RemoteKeySource budgets', () => {
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
  const published = new Set<string>();
  const asked: string[] = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const kid = decodeURIComponent((req.url ?? '/').slice(1));
      asked.push(kid);
      if (published.has(kid)) res.writeHead(200).end(pem);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    published.clear();
    asked.length = 0;
  });

  const source = () =>
    new RemoteKeySource({
      baseUrls: [base],
      parse: (text) => createPublicKey(text),
      alg: 'RS256',
      allowHttp: true,
      keyTtlMs: 1000,
      maxFetchesPerMinute: 5,
      maxFetchesPerCallerPerMinute: 2,
    });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => 'fetched',
      (err: unknown) => (err instanceof JwtError ? err.message : String(err)),
    );

  it('a caller making up kids spends its own budget, not a genuine caller’s', async () => {
    const keys = source();
    const now = 1_000_000;
    expect(await failure(keys.key('made-up-1', now, '203.0.113.9'))).toBe('Unknown signing key');
    expect(await failure(keys.key('made-up-2', now, '203.0.113.9'))).toBe('Unknown signing key');
    expect(await failure(keys.key('made-up-3', now, '203.0.113.9'))).toMatch(/Too many/);
    expect(asked).toEqual(['made-up-1', 'made-up-2']);
    published.add('rotated');
    expect(await failure(keys.key('rotated', now, '198.51.100.1'))).toBe('fetched');
    // A minute later the first caller has a budget again.
    expect(await failure(keys.key('made-up-3', now + 60_000, '203.0.113.9'))).toBe(
      'Unknown signing key',
    );
  });

  it('bounds fetches in all, and never refuses to fetch again a kid once answered', async () => {
    const keys = source();
    const now = 2_000_000;
    published.add('genuine');
    expect(await failure(keys.key('genuine', now, 'cmj'))).toBe('fetched');
    for (let i = 0; i < 4; i++)
      expect(await failure(keys.key(`made-up-${i}`, now, `198.51.100.${i}`))).toBe(
        'Unknown signing key',
      );
    // The budget in all (5) is spent: a new kid is refused, whoever asks…
    published.add('new');
    expect(await failure(keys.key('new', now, '192.0.2.1'))).toMatch(/Too many/);
    // …but the genuine kid, its cache entry expired (keyTtlMs 1 s), is fetched again.
    expect(await failure(keys.key('genuine', now + 2000, 'cmj'))).toBe('fetched');
    expect(asked.filter((kid) => kid === 'genuine')).toHaveLength(2);
  });
});
