import { AuditSink } from '../../src/audit/audit.port';
import { LocalInvalidationBus } from '../../src/common/invalidation/invalidation-bus';
import { DomainError } from '../../src/common/problem/domain-error';
import { Principal } from '../../src/common/principal';
import type { RequestMeta } from '../../src/common/request-meta';
import { WardenConfig } from '../../src/config/warden-config';
import { ConnectLifecycleService } from '../../src/connect/connect-lifecycle.service';
import { TenantDirectory } from '../../src/connect/tenants/tenant-directory.service';
import { TenantEntity } from '../../src/connect/tenants/tenant.entity';
import { TenantsRepository } from '../../src/connect/tenants/tenants.repository';
import { MovableClock } from './clock';
import { strict } from './strict-mock';

export const NOW = Date.parse('2026-12-01T09:00:00Z');
export const IAT = NOW / 1000;
export const CLIENT_KEY = 'jira:t1';
export const SECRET = 's'.repeat(40);

export const lifecycleCaller = (
  iat = IAT,
  digest = 'digest-1',
  tenant = CLIENT_KEY,
): Principal => ({
  id: tenant,
  username: `connect:${tenant}`,
  groups: [],
  authMethod: 'connect-install',
  credentialId: tenant,
  scopes: [],
  tenant,
  connect: { lifecycle: { iat, digest } },
});

export const payload = (overrides: Record<string, unknown> = {}) => ({
  key: 'warden',
  clientKey: CLIENT_KEY,
  sharedSecret: SECRET,
  baseUrl: 'https://t1.atlassian.net/',
  displayUrl: 'https://jira.t1.example/',
  productType: 'jira',
  description: 'Atlassian JIRA at https://t1.atlassian.net',
  oauthClientId: 'oauth-t1',
  eventType: 'installed',
  ...overrides,
});
export const uninstallPayload = (overrides: Record<string, unknown> = {}) =>
  payload({ sharedSecret: undefined, eventType: 'uninstalled', ...overrides });

export const request: RequestMeta = {
  ip: '203.0.113.7',
  userAgent: 'Atlassian HttpClient',
  requestId: 'req-1',
  method: 'POST',
  path: '/connect/installed',
};

export interface ConnectLifecycleSpec {
  /** The tenant row the repository's transaction is shown; none until `installedBefore`. */
  stored: TenantEntity | null;
  repository: { lifecycle: jest.Mock };
  audit: { record: jest.Mock };
  /** The clientKeys published to the other instances, in order. */
  published: string[];
  directory: TenantDirectory;
  sut: ConnectLifecycleService;
  /** A tenant as an earlier callback left it. */
  installedBefore(overrides?: Partial<TenantEntity>): TenantEntity;
  /** What the first lifecycle transaction answered. */
  answered(): Promise<unknown>;
}

/**
 * A ConnectLifecycleService over a strict repository, built afresh before each test of the
 * describe block that calls this; the fields are replaced each time, so read them in a
 * beforeEach or a test.
 */
export function connectLifecycleSpec(): ConnectLifecycleSpec {
  const spec = {
    installedBefore: (overrides: Partial<TenantEntity> = {}) =>
      (spec.stored = Object.assign(new TenantEntity(), {
        clientKey: CLIENT_KEY,
        sharedSecret: spec.directory.seal(CLIENT_KEY, SECRET),
        baseUrl: 'https://t1.atlassian.net',
        displayUrl: null,
        productType: 'jira',
        description: null,
        oauthClientId: null,
        installed: true,
        enabled: true,
        installedAt: new Date(NOW - 60_000),
        uninstalledAt: null,
        updatedAt: new Date(NOW - 60_000),
        lifecycleIat: String(IAT),
        lifecycleDigests: 'digest-0 digest-1',
        ...overrides,
      })),
    answered: async () => (await spec.repository.lifecycle.mock.results[0].value) as unknown,
  } as ConnectLifecycleSpec;

  beforeEach(() => {
    spec.stored = null;
    // The repository's transaction, reduced to what the service decides: the row it is shown,
    // and what it answers with.
    const repository = {
      lifecycle: jest.fn(async (_key, _token, apply: (c: TenantEntity | null) => unknown) =>
        apply(spec.stored),
      ),
    };
    const audit = { record: jest.fn() };
    const bus = new LocalInvalidationBus();
    const published: string[] = [];
    bus.subscribe('connect-tenant-changed', (clientKey) => published.push(clientKey));
    const config = {
      connect: { appKey: 'warden' },
      encryptionKey: { key: Buffer.alloc(32, 7) },
    } as unknown as WardenConfig;
    const directory = new TenantDirectory(strict<TenantsRepository>({}), bus, config);
    const sut = new ConnectLifecycleService(
      strict<TenantsRepository>(repository),
      directory,
      strict<AuditSink>(audit),
      new MovableClock(NOW),
      config,
    );
    Object.assign(spec, { repository, audit, published, directory, sut });
  });

  return spec;
}

/** The refusal `run` ends in; anything else fails the test. */
export async function refusal(run: Promise<unknown>): Promise<DomainError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DomainError)) throw new Error(`expected a refusal, got ${String(err)}`);
  return err;
}
