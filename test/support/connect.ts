import { databaseReady, startApp, TestApp } from './app';
import { FakeAtlassian, SimTenant } from './atlassian';
import { adminAuth } from './factories';
import { http, HttpResult } from './http';

/** The base URL Warden is told it has: the audience of lifecycle tokens, the descriptor's baseUrl. */
export const CONNECT_BASE_URL = 'https://warden.example.test';

/** A JWS segment of `value`, for tokens the tests spell by hand (alg none and the like). */
export const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Warden on `database` with Atlassian's side faked (key servers, authorization server, host
 * product), for a Connect suite; what a test does with a tenant, spelt once. `t` and `ready` are
 * there from the suite's first beforeAll on (`ready` is false when the database is absent, and
 * nothing is started then).
 */
export interface ConnectApp {
  readonly t: TestApp;
  readonly ready: boolean;
  readonly atl: FakeAtlassian;
  /** POSTs the install callback: by default a fresh lifecycle token and the tenant's payload. */
  install(tenant: SimTenant, token?: string, body?: unknown): Promise<HttpResult>;
  uninstall(tenant: SimTenant): Promise<HttpResult>;
  whoami(token: string, url?: string): Promise<HttpResult>;
  /** A request token of the tenant's for `GET /connect/whoami`. */
  requestToken(tenant: SimTenant, claims?: Record<string, unknown>): string;
  /** The tenants as an administrator lists them. */
  tenants(): Promise<Record<string, unknown>[]>;
  /** Makes the tenant known to Atlassian and installs it, expecting a 204. */
  installed(tenant: SimTenant): Promise<void>;
}

/** Registers the suite's beforeAll / afterAll that start and stop Warden and the fake Atlassian. */
export function useConnectApp(database: 'sqlite' | 'postgres'): ConnectApp {
  let t: TestApp | undefined;
  let ready = false;
  const atl = new FakeAtlassian();

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    await atl.start();
    t = await startApp({
      database,
      env: {
        WARDEN_BASE_URL: CONNECT_BASE_URL,
        CONNECT_KEYS_URL: atl.keysUrl,
        CONNECT_KEYS_FALLBACK_URL: atl.fallbackUrl,
        CONNECT_AUTH_SERVER_URL: atl.url,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    if (ready) await atl.stop();
  });

  const app = (): TestApp => {
    if (!t) throw new Error('Warden is not started: the suite has no database');
    return t;
  };
  const install = (
    tenant: SimTenant,
    token = atl.lifecycleToken(tenant.clientKey, CONNECT_BASE_URL, '/connect/installed'),
    body: unknown = atl.installPayload(tenant),
  ) =>
    http(`${app().url}/connect/installed`, {
      method: 'POST',
      headers: { authorization: `JWT ${token}` },
      json: body,
    });
  const uninstall = (tenant: SimTenant) =>
    http(`${app().url}/connect/uninstalled`, {
      method: 'POST',
      headers: {
        authorization: `JWT ${atl.lifecycleToken(tenant.clientKey, CONNECT_BASE_URL, '/connect/uninstalled')}`,
      },
      json: { ...atl.installPayload(tenant), sharedSecret: undefined, eventType: 'uninstalled' },
    });
  const whoami = (token: string, url = '/connect/whoami') =>
    http(`${app().url}${url}`, { headers: { authorization: `JWT ${token}` } });
  const requestToken = (tenant: SimTenant, claims: Record<string, unknown> = {}) =>
    FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami', claims);
  const tenants = async () =>
    (await http(`${app().url}/admin/connect/tenants`, { headers: { authorization: adminAuth() } }))
      .body as Record<string, unknown>[];
  const installed = async (tenant: SimTenant) => {
    atl.tenants.set(tenant.clientKey, tenant);
    const res = await install(tenant);
    expect(res.status).toBe(204);
  };

  return {
    get t() {
      return app();
    },
    get ready() {
      return ready;
    },
    atl,
    install,
    uninstall,
    whoami,
    requestToken,
    tenants,
    installed,
  };
}
