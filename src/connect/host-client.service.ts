import { Inject, Injectable } from '@nestjs/common';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { fetchJson, fetchText, RemoteCallError } from '../common/http/fetch-json';
import { signJws } from '../common/jwt/jws';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { QshError, qshOf } from './qsh';
import { LiveTenant, TenantDirectory } from './tenants/tenant-directory.service';

/** Outgoing request tokens live three minutes (Atlassian's recommendation for app tokens). */
export const HOST_TOKEN_TTL_SECONDS = 180;
/** The JWT bearer assertion only has to reach the authorization server. */
const ASSERTION_TTL_SECONDS = 60;
/** A user's access token is renewed this long before it expires, not after a failed call. */
const USER_TOKEN_MARGIN_MS = 60_000;
const CALL_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export class HostCallError extends Error {
  /** false: the call cannot be made as things are configured (nothing was sent). */
  readonly attempted: boolean;

  constructor(message: string, kind: 'refused' | 'failed' = 'refused') {
    super(message);
    this.name = 'HostCallError';
    this.attempted = kind === 'failed';
  }
}

export interface HostRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Relative to the tenant's base URL, with its query: `/rest/api/3/myself?expand=groups`. */
  path: string;
  body?: unknown;
}

export interface HostResponse {
  status: number;
  body: string;
}

/**
 * Calls a tenant's REST API back, as the app (a Connect JWT: `iss` the app key, `aud` the
 * clientKey, `qsh` over the path relative to the tenant's base URL and the query, 3 minutes)
 * or as one of its users (`asUser`: an access token from the JWT bearer grant, RFC 7523, at
 * CONNECT_AUTH_SERVER_URL/oauth2/token, kept until shortly before it expires).
 */
@Injectable()
export class ConnectHostClient {
  private readonly userTokens = new BoundedCache<string, string>(10_000);
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly tenants: TenantDirectory,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  /** The `Authorization: JWT …` token for one request to the tenant. */
  appToken(clientKey: string, method: string, path: string): string {
    const tenant = this.tenant(clientKey);
    const now = Math.floor(this.clock.now() / 1000);
    return signJws(
      { typ: 'JWT' },
      {
        iss: this.config.connect.appKey,
        aud: [tenant.clientKey],
        iat: now,
        exp: now + HOST_TOKEN_TTL_SECONDS,
        qsh: hostQsh(method, relative(path)),
      },
      { alg: 'HS256', key: tenant.secret },
    );
  }

  /** One request to the tenant as the app. */
  request(clientKey: string, request: HostRequest): Promise<HostResponse> {
    const method = request.method ?? 'GET';
    const path = relative(request.path);
    return this.send(
      this.tenant(clientKey),
      method,
      path,
      `JWT ${this.appToken(clientKey, method, path)}`,
      request.body,
    );
  }

  /** One request to the tenant as the user `accountId` (the ACT_AS_USER scope). */
  async requestAsUser(
    clientKey: string,
    accountId: string,
    request: HostRequest,
  ): Promise<HostResponse> {
    const tenant = this.tenant(clientKey);
    const token = await this.userToken(tenant, accountId);
    return this.send(
      tenant,
      request.method ?? 'GET',
      relative(request.path),
      `Bearer ${token}`,
      request.body,
    );
  }

  /** An access token for `accountId` on this tenant, from the cache while it is good. */
  async userToken(tenant: LiveTenant, accountId: string): Promise<string> {
    if (!this.config.connect.scopes.includes('ACT_AS_USER'))
      throw new HostCallError('Acting as a user needs the ACT_AS_USER scope (CONNECT_SCOPES)');
    if (!tenant.oauthClientId)
      throw new HostCallError(
        'The tenant sent no oauthClientId at install: it cannot act as a user',
      );
    if (!/^[\x21-\x7e]{1,128}$/.test(accountId))
      throw new HostCallError('The account id is not valid');
    const key = `${tenant.clientKey}\n${accountId}`;
    const now = this.clock.now();
    const cached = this.userTokens.get(key, now);
    if (cached) return cached;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.grant(tenant, accountId, key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async grant(tenant: LiveTenant, accountId: string, key: string): Promise<string> {
    const now = Math.floor(this.clock.now() / 1000);
    const { authServerUrl, scopes } = this.config.connect;
    const assertion = signJws(
      { typ: 'JWT' },
      {
        iss: `urn:atlassian:connect:clientid:${tenant.oauthClientId}`,
        sub: `urn:atlassian:connect:useraccountid:${accountId}`,
        tnt: tenant.baseUrl,
        aud: authServerUrl,
        iat: now,
        exp: now + ASSERTION_TTL_SECONDS,
      },
      { alg: 'HS256', key: tenant.secret },
    );
    const form = new URLSearchParams({
      grant_type: JWT_BEARER_GRANT,
      assertion,
      scope: scopes.join(' '),
    });
    let answer: { status: number; body: unknown };
    try {
      answer = await fetchJson(`${authServerUrl}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        timeoutMs: CALL_TIMEOUT_MS,
        maxBytes: 64 * 1024,
        allowHttp: true,
      });
    } catch (err) {
      throw new HostCallError(
        `The authorization server gave no token: ${err instanceof RemoteCallError ? err.message : 'no answer'}`,
        'failed',
      );
    }
    const body = answer.body as { access_token?: unknown; expires_in?: unknown };
    if (answer.status !== 200 || typeof body.access_token !== 'string' || body.access_token === '')
      throw new HostCallError(
        `The authorization server refused the grant (${answer.status})`,
        'failed',
      );
    const expiresIn =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 0;
    const keepUntil = this.clock.now() + expiresIn * 1000 - USER_TOKEN_MARGIN_MS;
    if (keepUntil > this.clock.now()) this.userTokens.set(key, body.access_token, keepUntil);
    return body.access_token;
  }

  private async send(
    tenant: LiveTenant,
    method: string,
    path: string,
    authorization: string,
    body: unknown,
  ): Promise<HostResponse> {
    const headers: Record<string, string> = { authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const { status, text } = await fetchText(`${tenant.baseUrl}${path}`, {
        method: method as HostRequest['method'],
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: CALL_TIMEOUT_MS,
        maxBytes: MAX_ANSWER_BYTES,
        allowHttp: true,
      });
      return { status, body: text };
    } catch (err) {
      throw new HostCallError(
        `The tenant did not answer: ${err instanceof RemoteCallError ? err.message : 'no answer'}`,
        'failed',
      );
    }
  }

  private tenant(clientKey: string): LiveTenant {
    const tenant = this.tenants.get(clientKey);
    if (!tenant || !tenant.active)
      throw new HostCallError('The tenant is not installed or is disabled');
    return tenant;
  }
}

function hostQsh(method: string, path: string): string {
  try {
    return qshOf(method, path);
  } catch (err) {
    if (err instanceof QshError)
      throw new HostCallError(`The path cannot be signed: ${err.message}`);
    throw err;
  }
}

/** Calls stay on the tenant's host: only a path (and query) relative to its base URL. */
function relative(path: string): string {
  if (!path.startsWith('/') || path.startsWith('//') || path.includes('\\') || path.includes('#'))
    throw new HostCallError('The path must be relative to the tenant: /rest/…');
  return path;
}
