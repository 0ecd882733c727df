import { Inject, Injectable } from '@nestjs/common';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { fetchJson, fetchText, RemoteCallError } from '../common/http/fetch-json';
import { sign } from 'jsonwebtoken';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { ACCOUNT_ID_PATTERN, HostRequestError, tenantUrl, wireTarget } from './host-request';
import { qshOf } from './qsh';
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

/**
 * Why a call to a tenant was not made or gave no answer:
 * - `unknown_tenant`: no tenant with that clientKey is held here;
 * - `not_callable`: the tenant is uninstalled or disabled, or acting as a user is not possible
 *   as things are configured (scope, oauthClientId);
 * - `invalid_request`: the path or account id cannot be sent (`field` names which);
 * - `failed`: the call was made and the tenant or the authorization server did not answer well.
 */
export type HostCallFailure = 'unknown_tenant' | 'not_callable' | 'invalid_request' | 'failed';

export class HostCallError extends Error {
  /** false: nothing was sent. */
  readonly attempted: boolean;

  constructor(
    readonly reason: HostCallFailure,
    message: string,
    readonly field?: 'path' | 'accountId',
  ) {
    super(message);
    this.name = 'HostCallError';
    this.attempted = reason === 'failed';
  }
}

export interface HostRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /**
   * Relative to the tenant's base URL, with its query: `/rest/api/3/myself?expand=groups`.
   * Characters a URL cannot hold as they are (a space, `é`) are percent-encoded before the
   * request is signed, so the `qsh` covers the target the tenant receives (see wireTarget).
   */
  path: string;
  body?: unknown;
}

export interface HostResponse {
  status: number;
  body: string;
}

/**
 * Calls a tenant's REST API back, as the app (a Connect JWT: `iss` the app key, `aud` the
 * clientKey, `qsh` over the path relative to the tenant's base URL and the query exactly as they
 * are sent, 3 minutes) or as one of its users (`asUser`: an access token from the JWT bearer
 * grant, RFC 7523, at CONNECT_AUTH_SERVER_URL/oauth2/token, kept until shortly before it expires).
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

  /**
   * The `Authorization: JWT …` token for one request to the tenant; `path` is put in wire form
   * first, so the request must be sent to `wireTarget(path)`.
   */
  appToken(clientKey: string, method: string, path: string): string {
    const tenant = this.tenant(clientKey);
    return this.sign(tenant, method, target(tenant, path).wire);
  }

  /** One request to the tenant as the app. */
  async request(clientKey: string, request: HostRequest): Promise<HostResponse> {
    const tenant = this.tenant(clientKey);
    const method = request.method ?? 'GET';
    const { wire, url } = target(tenant, request.path);
    return this.send(url, method, `JWT ${this.sign(tenant, method, wire)}`, request.body);
  }

  /** One request to the tenant as the user `accountId` (the ACT_AS_USER scope). */
  async requestAsUser(
    clientKey: string,
    accountId: string,
    request: HostRequest,
  ): Promise<HostResponse> {
    const tenant = this.tenant(clientKey);
    const { url } = target(tenant, request.path);
    const token = await this.userToken(tenant, accountId);
    return this.send(url, request.method ?? 'GET', `Bearer ${token}`, request.body);
  }

  /** An access token for `accountId` on this tenant, from the cache while it is good. */
  async userToken(tenant: LiveTenant, accountId: string): Promise<string> {
    if (!ACCOUNT_ID_PATTERN.test(accountId))
      throw new HostCallError(
        'invalid_request',
        'accountId must be 1 to 128 printable ASCII characters without spaces',
        'accountId',
      );
    if (!this.config.connect.scopes.includes('ACT_AS_USER'))
      throw new HostCallError(
        'not_callable',
        'Acting as a user needs the ACT_AS_USER scope (CONNECT_SCOPES)',
      );
    if (!tenant.oauthClientId)
      throw new HostCallError(
        'not_callable',
        'The tenant sent no oauthClientId at install: it cannot act as a user',
      );
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
    const assertion = sign(
      {
        iss: `urn:atlassian:connect:clientid:${tenant.oauthClientId}`,
        sub: `urn:atlassian:connect:useraccountid:${accountId}`,
        tnt: tenant.baseUrl,
        aud: authServerUrl,
        iat: now,
        exp: now + ASSERTION_TTL_SECONDS,
      },
      tenant.secret,
      { algorithm: 'HS256' },
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
        'failed',
        `The authorization server gave no token: ${err instanceof RemoteCallError ? err.message : 'no answer'}`,
      );
    }
    const body = answer.body as { access_token?: unknown; expires_in?: unknown };
    if (answer.status !== 200 || typeof body.access_token !== 'string' || body.access_token === '')
      throw new HostCallError(
        'failed',
        `The authorization server refused the grant (${answer.status})`,
      );
    const expiresIn =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 0;
    const keepUntil = this.clock.now() + expiresIn * 1000 - USER_TOKEN_MARGIN_MS;
    if (keepUntil > this.clock.now()) this.userTokens.set(key, body.access_token, keepUntil);
    return body.access_token;
  }

  private sign(tenant: LiveTenant, method: string, wire: string): string {
    const now = Math.floor(this.clock.now() / 1000);
    return sign(
      {
        iss: this.config.connect.appKey,
        aud: [tenant.clientKey],
        iat: now,
        exp: now + HOST_TOKEN_TTL_SECONDS,
        qsh: qshOf(method, wire),
      },
      tenant.secret,
      { algorithm: 'HS256' },
    );
  }

  private async send(
    url: string,
    method: string,
    authorization: string,
    body: unknown,
  ): Promise<HostResponse> {
    const headers: Record<string, string> = { authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const { status, text } = await fetchText(url, {
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
        'failed',
        `The tenant did not answer: ${err instanceof RemoteCallError ? err.message : 'no answer'}`,
      );
    }
  }

  private tenant(clientKey: string): LiveTenant {
    const tenant = this.tenants.get(clientKey);
    if (!tenant) throw new HostCallError('unknown_tenant', 'No such tenant');
    if (!tenant.active)
      throw new HostCallError('not_callable', 'The tenant is uninstalled or disabled');
    return tenant;
  }
}

/**
 * Calls stay on the tenant's host: only a path (and query) relative to its base URL. `wire` is
 * what the qsh is computed over, `url` what is sent: the same target.
 */
function target(tenant: LiveTenant, path: string): { wire: string; url: string } {
  try {
    const wire = wireTarget(path);
    return { wire, url: tenantUrl(tenant.baseUrl, wire) };
  } catch (err) {
    if (err instanceof HostRequestError)
      throw new HostCallError('invalid_request', `path ${err.message}`, 'path');
    throw err;
  }
}
