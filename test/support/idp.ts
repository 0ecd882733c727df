import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import { JwsAlgorithm } from '../../src/common/jwt/jws';
import { signJws } from './jws';

export interface IdpKey {
  kid: string;
  alg: JwsAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newRsaKey(kid: string = randomUUID()): IdpKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg: 'RS256', privateKey, publicKey };
}

/**
 * A simulated identity provider on a loopback port: a JWK set (whose keys, delay and size the
 * test sets) and an RFC 7662 introspection endpoint (which checks the client's Basic
 * credentials), counting the requests each receives.
 */
export class FakeIdp {
  constructor(readonly issuer = 'https://idp.example.test/') {}

  keys: IdpKey[] = [newRsaKey()];
  jwksDelayMs = 0;
  /** Bytes of padding added to the JWK set (an oversized answer). */
  jwksPaddingBytes = 0;
  jwksRequests = 0;
  introspectionRequests = 0;
  /** Introspection answers by token; anything else is inactive. */
  readonly active = new Map<string, Record<string, unknown>>();
  introspectionDown = false;
  introspectionDelayMs = 0;
  readonly client = { id: 'warden', secret: 'introspection-client-secret' };
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  sign(claims: Record<string, unknown>, key = this.keys[0], header: Record<string, unknown> = {}) {
    const now = Math.floor(Date.now() / 1000);
    return signJws(
      { typ: 'JWT', ...header },
      { iss: this.issuer, sub: 'u-1', aud: 'warden-api', iat: now, exp: now + 300, ...claims },
      { alg: key.alg, key: key.privateKey, kid: key.kid },
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://idp').pathname;
    if (path === '/jwks') {
      this.jwksRequests++;
      if (this.jwksDelayMs) await new Promise((r) => setTimeout(r, this.jwksDelayMs));
      const keys = this.keys.map((k) => ({
        ...k.publicKey.export({ format: 'jwk' }),
        kid: k.kid,
        alg: k.alg,
        use: 'sig',
      }));
      const body: Record<string, unknown> = { keys };
      if (this.jwksPaddingBytes) body.padding = 'x'.repeat(this.jwksPaddingBytes);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return;
    }
    if (path === '/introspect' && req.method === 'POST') {
      this.introspectionRequests++;
      if (this.introspectionDelayMs)
        await new Promise((r) => setTimeout(r, this.introspectionDelayMs));
      if (this.introspectionDown) {
        res.writeHead(503).end();
        return;
      }
      const expected = `Basic ${Buffer.from(`${this.client.id}:${this.client.secret}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_client"}');
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('token') ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.active.get(token) ?? { active: false }));
      return;
    }
    res.writeHead(404).end();
  }
}
