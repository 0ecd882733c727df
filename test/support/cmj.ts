import {
  createHmac,
  createSecretKey,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { JwsAlgorithm } from '../../src/common/jwt/jws';
import { signJws } from './jws';

export interface CmjKey {
  kid: string;
  alg: JwsAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newCmjKey(kid: string = randomUUID()): CmjKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg: 'RS256', privateKey, publicKey };
}

export interface RecordedCall {
  operationId: string;
  what: string;
  authorization: string | undefined;
  body: any;
  /** The simulator's answer. */
  status: number;
}

/**
 * CMJ Cloud on two loopback ports, recording everything it receives:
 *
 * - the Keys API, `GET /keys/{kid}` → `{"publicKey": "<Base64 DER SubjectPublicKeyInfo>"}`;
 * - the Operations API, `POST /operations/{id}/progress|result|mappings`, which accepts only the
 *   token it issued for that very operation (`issue(operationId)`);
 * - a download server (its own port: its own host) serving signed links that expire.
 */
export class FakeCmj {
  key: CmjKey = newCmjKey();
  readonly keys = new Map<string, CmjKey>([[this.key.kid, this.key]]);
  keysDown = false;
  keyRequests = 0;
  /** The `aud` of the SPI tokens it signs: the app's base URL. */
  audience = 'https://warden.example.test';
  readonly calls: RecordedCall[] = [];
  readonly downloadsSeen: { path: string; authorization: string | undefined; status: number }[] =
    [];
  /** Answers queued for the next Operations API calls: `{status, retryAfter}`. */
  readonly failures: { status: number; retryAfter?: string }[] = [];
  /** Progress reports answered 503, always (a struggling Operations API). */
  progressDown = false;
  readonly tokens = new Map<string, string>();
  readonly mappings = new Map<string, string>();
  private readonly files = new Map<string, string>();
  private readonly linkSecret = randomBytes(32);
  private api!: Server;
  private downloadServer!: Server;
  url = '';
  downloadUrl = '';

  get keysUrl(): string {
    return `${this.url}/keys`;
  }
  get downloadHost(): string {
    return new URL(this.downloadUrl).host;
  }

  async start(): Promise<void> {
    this.api = createServer((req, res) => void this.handleApi(req, res));
    this.downloadServer = createServer((req, res) => this.handleDownload(req, res));
    for (const server of [this.api, this.downloadServer])
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.api.address() as AddressInfo).port}`;
    this.downloadUrl = `http://127.0.0.1:${(this.downloadServer.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const server of [this.api, this.downloadServer]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  /** A CMJ SPI token (RS256 by default, kid in the header). */
  sign(
    claims: Record<string, unknown> = {},
    options: { key?: { alg: JwsAlgorithm; privateKey: KeyObject; kid?: string } } = {},
  ): string {
    const key = options.key ?? this.key;
    const now = Math.floor(Date.now() / 1000);
    return signJws(
      { typ: 'JWT' },
      {
        iss: 'cmj-cloud',
        sub: 'cmj-migration',
        aud: this.audience,
        iat: now,
        exp: now + 300,
        ...claims,
      },
      { alg: key.alg, key: key.privateKey, kid: key.kid },
    );
  }

  /** The operation token CMJ hands over with the first call of `operationId`. */
  issue(operationId: string, ttlSeconds = 900): string {
    const token = signJws(
      { typ: 'JWT' },
      { op: operationId, exp: Math.floor(Date.now() / 1000) + ttlSeconds, n: randomUUID() },
      { alg: 'HS256', key: createSecretKey(this.linkSecret) },
    );
    this.tokens.set(operationId, token);
    return token;
  }

  /** A signed link to `content`, valid for `ttlSeconds` (negative: already expired). */
  link(content: string, ttlSeconds = 300): string {
    const id = randomUUID();
    this.files.set(id, content);
    const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
    const signature = this.signPath(`/exports/${id}`, expires);
    return `${this.downloadUrl}/exports/${id}?expires=${expires}&signature=${signature}`;
  }

  callsFor(operationId: string, what?: string): RecordedCall[] {
    return this.calls.filter((c) => c.operationId === operationId && (!what || c.what === what));
  }

  private signPath(path: string, expires: number): string {
    return createHmac('sha256', this.linkSecret).update(`${path}\n${expires}`).digest('base64url');
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (path.startsWith('/keys/')) {
      this.keyRequests++;
      if (this.keysDown) return send(503, { error: 'unavailable' });
      const key = this.keys.get(decodeURIComponent(path.slice('/keys/'.length)));
      if (!key) return send(404, { error: 'unknown kid' });
      const der = key.publicKey.export({ format: 'der', type: 'spki' });
      return send(200, { publicKey: der.toString('base64') });
    }
    const match = /^\/operations\/([^/]+)\/(progress|result|mappings)$/.exec(path);
    if (match && req.method === 'POST') {
      const operationId = decodeURIComponent(match[1]);
      const raw = await readBody(req);
      let body: any = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
      const authorization = req.headers.authorization;
      const record = (status: number) =>
        this.calls.push({ operationId, what: match[2], authorization, body, status });
      if (this.progressDown && match[2] === 'progress') {
        record(503);
        return send(503, { error: 'unavailable' });
      }
      const failure = this.failures.shift();
      if (failure) {
        record(failure.status);
        return send(
          failure.status,
          { error: 'failure' },
          failure.retryAfter ? { 'retry-after': failure.retryAfter } : {},
        );
      }
      const expected = this.tokens.get(operationId);
      if (!expected || authorization !== `Bearer ${expected}`) {
        record(401);
        return send(401, { error: 'not this operation\u2019s token' });
      }
      record(200);
      if (match[2] === 'mappings') {
        const ids: string[] = Array.isArray(body?.sourceIds) ? body.sourceIds : [];
        return send(200, {
          mappings: ids.map((id) => ({ sourceId: id, targetId: this.mappings.get(id) ?? null })),
        });
      }
      return send(200, {});
    }
    send(404, { error: 'not found' });
  }

  private handleDownload(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.downloadUrl);
    const answer = (status: number, body: string) => {
      this.downloadsSeen.push({
        path: url.pathname,
        authorization: req.headers.authorization,
        status,
      });
      res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'text/plain' });
      res.end(body);
    };
    const expires = Number(url.searchParams.get('expires'));
    const signature = url.searchParams.get('signature') ?? '';
    if (signature !== this.signPath(url.pathname, expires) || expires < Date.now() / 1000)
      return answer(403, 'link expired or not signed');
    const content = this.files.get(url.pathname.slice('/exports/'.length));
    if (content === undefined) return answer(404, 'no such export');
    answer(200, content);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
