import { createHash, createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { decodeJws } from '../../src/common/jwt/jws';
import { signJws } from './jws';
import { verifyJwsSignature } from './jws';
import { qshOf } from '../../src/connect/qsh';
import { IdpKey, newRsaKey } from './idp';

export interface SimTenant {
  clientKey: string;
  sharedSecret: string;
  oauthClientId: string;
}

export function newTenant(name = randomUUID()): SimTenant {
  return {
    clientKey: `jira:${name}`,
    sharedSecret: randomBytes(32).toString('base64url'),
    oauthClientId: `oauth-${name}`,
  };
}

/**
 * Atlassian's side of Connect on one loopback port, each part counting what it receives:
 *
 * - `/keys/{kid}` and `/fallback-keys/{kid}`: the install-key CDN and its fallback (PEM text);
 * - `/oauth2/token`: the authorization server of the JWT bearer grant (RFC 7523), which checks
 *   the assertion against the tenants it knows;
 * - `/jira/...`: the host product's REST API, which accepts only what a tenant would: a Connect
 *   JWT from the app (`iss` app key, `aud` the clientKey, `qsh` relative to `/jira`) or an access
 *   token the authorization server issued.
 */
export class FakeAtlassian {
  key: IdpKey = newRsaKey();
  /** Keys the CDN serves, by kid; the fallback serves `fallbackKeys`. */
  readonly keys = new Map<string, IdpKey>();
  readonly fallbackKeys = new Map<string, IdpKey>();
  keysDown = false;
  keyRequests = 0;
  fallbackRequests = 0;
  tokenRequests = 0;
  /** Token requests the authorization server refuses. */
  tokenDown = false;
  readonly tenants = new Map<string, SimTenant>();
  readonly issued = new Map<string, { accountId: string; clientKey: string }>();
  /** What the host's REST API saw last: its auth kind and the caller. */
  lastHostCall: { kind: 'jwt' | 'bearer'; who: string; path: string } | null = null;
  appKey = 'warden';
  private server!: Server;
  url = '';

  constructor() {
    this.keys.set(this.key.kid, this.key);
  }

  get keysUrl(): string {
    return `${this.url}/keys`;
  }
  get fallbackUrl(): string {
    return `${this.url}/fallback-keys`;
  }
  get tenantBaseUrl(): string {
    return `${this.url}/jira`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** A signed lifecycle token as the host sends it (RS256, kid, aud, iss, qsh of the callback). */
  lifecycleToken(
    clientKey: string,
    aud: string,
    path: string,
    options: {
      key?: IdpKey;
      claims?: Record<string, unknown>;
      header?: Record<string, unknown>;
    } = {},
  ): string {
    const key = options.key ?? this.key;
    const now = Math.floor(Date.now() / 1000);
    return signJws(
      { typ: 'JWT', ...options.header },
      {
        iss: clientKey,
        aud,
        iat: now,
        exp: now + 180,
        qsh: qshOf('POST', path),
        ...options.claims,
      },
      { alg: 'RS256', key: key.privateKey, kid: key.kid },
    );
  }

  /** A request token of a tenant (HS256, the shared secret), bound to `method` and `url`. */
  static requestToken(
    tenant: SimTenant,
    method: string,
    url: string,
    claims: Record<string, unknown> = {},
  ): string {
    const now = Math.floor(Date.now() / 1000);
    return signJws(
      { typ: 'JWT' },
      {
        iss: tenant.clientKey,
        sub: 'acc-5b10a2844c20165700ede21g',
        iat: now,
        exp: now + 180,
        qsh: qshOf(method, url),
        ...claims,
      },
      { alg: 'HS256', key: createSecretKey(Buffer.from(tenant.sharedSecret, 'utf8')) },
    );
  }

  /** Installs `tenant` on the Warden at `wardenUrl` (base URL `aud`) the way the host does. */
  install(wardenUrl: string, aud: string, tenant: SimTenant): Promise<Response> {
    return fetch(`${wardenUrl}/connect/installed`, {
      method: 'POST',
      headers: {
        authorization: `JWT ${this.lifecycleToken(tenant.clientKey, aud, '/connect/installed')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(this.installPayload(tenant)),
    });
  }

  /** Uninstalls `tenant` from the Warden at `wardenUrl` the way the host does. */
  uninstall(wardenUrl: string, aud: string, tenant: SimTenant): Promise<Response> {
    return fetch(`${wardenUrl}/connect/uninstalled`, {
      method: 'POST',
      headers: {
        authorization: `JWT ${this.lifecycleToken(tenant.clientKey, aud, '/connect/uninstalled')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(this.installPayload(tenant, { eventType: 'uninstalled' })),
    });
  }

  installPayload(tenant: SimTenant, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      key: this.appKey,
      clientKey: tenant.clientKey,
      sharedSecret: tenant.sharedSecret,
      baseUrl: this.tenantBaseUrl,
      displayUrl: 'https://jira.example.com',
      productType: 'jira',
      description: 'Atlassian JIRA at https://example.atlassian.net',
      oauthClientId: tenant.oauthClientId,
      eventType: 'installed',
      // Fields Atlassian sends that Warden does not keep.
      pluginsVersion: '1001.0.0-SNAPSHOT',
      serverVersion: '100232',
      cloudId: randomUUID(),
      ...extra,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    for (const [prefix, keys, count] of [
      ['/keys/', this.keys, () => this.keyRequests++],
      ['/fallback-keys/', this.fallbackKeys, () => this.fallbackRequests++],
    ] as const) {
      if (!path.startsWith(prefix)) continue;
      count();
      if (this.keysDown) return send(503, 'unavailable', 'text/plain');
      const key = keys.get(decodeURIComponent(path.slice(prefix.length)));
      if (!key) return send(404, 'not found', 'text/plain');
      return send(
        200,
        key.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        'application/x-pem-file',
      );
    }
    if (path === '/oauth2/token' && req.method === 'POST') return this.token(req, send);
    if (path.startsWith('/jira/')) return this.host(req, url, send);
    send(404, { error: 'not found' });
  }

  private async token(
    req: IncomingMessage,
    send: (status: number, body: unknown) => void,
  ): Promise<void> {
    this.tokenRequests++;
    const form = new URLSearchParams(await readBody(req));
    if (this.tokenDown) return send(503, { error: 'temporarily_unavailable' });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return send(400, { error: 'unsupported_grant_type' });
    try {
      const signed = form.get('assertion') ?? '';
      const assertion = decodeJws(signed);
      const iss = String(assertion.payload.iss ?? '');
      const tenant = [...this.tenants.values()].find(
        (t) => iss === `urn:atlassian:connect:clientid:${t.oauthClientId}`,
      );
      if (!tenant) return send(401, { error: 'invalid_client' });
      verifyJwsSignature(signed, {
        alg: 'HS256',
        key: createSecretKey(Buffer.from(tenant.sharedSecret, 'utf8')),
      });
      const sub = String(assertion.payload.sub ?? '');
      const prefix = 'urn:atlassian:connect:useraccountid:';
      if (
        !sub.startsWith(prefix) ||
        assertion.payload.tnt !== this.tenantBaseUrl ||
        assertion.payload.aud !== this.url ||
        (assertion.payload.exp as number) < Date.now() / 1000
      )
        return send(400, { error: 'invalid_grant' });
      const accessToken = randomBytes(24).toString('base64url');
      this.issued.set(accessToken, {
        accountId: sub.slice(prefix.length),
        clientKey: tenant.clientKey,
      });
      send(200, { access_token: accessToken, expires_in: 900, token_type: 'Bearer' });
    } catch {
      send(400, { error: 'invalid_grant' });
    }
  }

  private host(
    req: IncomingMessage,
    url: string,
    send: (status: number, body: unknown) => void,
  ): void {
    const auth = req.headers.authorization ?? '';
    const relative = url.slice('/jira'.length);
    if (auth.startsWith('Bearer ')) {
      const issued = this.issued.get(auth.slice(7));
      if (!issued) return send(401, { message: 'bad access token' });
      this.lastHostCall = { kind: 'bearer', who: issued.accountId, path: relative };
      return send(200, { accountId: issued.accountId });
    }
    if (!auth.startsWith('JWT ')) return send(401, { message: 'no credentials' });
    try {
      const signed = auth.slice(4);
      const token = decodeJws(signed);
      const aud = token.payload.aud as string[];
      const tenant = [...this.tenants.values()].find((t) => aud?.includes(t.clientKey));
      if (!tenant || token.payload.iss !== this.appKey) return send(401, { message: 'who?' });
      verifyJwsSignature(signed, {
        alg: 'HS256',
        key: createSecretKey(Buffer.from(tenant.sharedSecret, 'utf8')),
      });
      const exp = token.payload.exp as number;
      const iat = token.payload.iat as number;
      const now = Date.now() / 1000;
      if (exp < now || exp - iat > 180) return send(401, { message: 'expiry' });
      if (token.payload.qsh !== qshOf(req.method ?? 'GET', relative))
        return send(401, { message: 'qsh' });
      this.lastHostCall = { kind: 'jwt', who: tenant.clientKey, path: relative };
      send(200, { baseUrl: this.tenantBaseUrl, version: '1001.0.0' });
    } catch {
      send(401, { message: 'bad token' });
    }
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

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
