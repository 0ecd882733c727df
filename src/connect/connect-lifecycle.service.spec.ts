import { AuditSink } from '../audit/audit.port';
import { Clock } from '../common/clock';
import { LocalInvalidationBus } from '../common/invalidation/invalidation-bus';
import { DomainError } from '../common/problem/domain-error';
import { Principal } from '../common/principal';
import { WardenConfig } from '../config/warden-config';
import type { RequestMeta } from '../common/request-meta';
import { strict } from '../../test/support/strict-mock';
import { ConnectLifecycleService, tenantView } from './connect-lifecycle.service';
import { TenantDirectory } from './tenants/tenant-directory.service';
import { TenantEntity } from './tenants/tenant.entity';
import { TenantsRepository } from './tenants/tenants.repository';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const IAT = NOW / 1000;
const CLIENT_KEY = 'jira:t1';
const SECRET = 's'.repeat(40);

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

const lifecycleCaller = (iat = IAT, digest = 'digest-1', tenant = CLIENT_KEY): Principal => ({
  id: tenant,
  username: `connect:${tenant}`,
  groups: [],
  authMethod: 'connect-install',
  credentialId: tenant,
  scopes: [],
  tenant,
  connect: { lifecycle: { iat, digest } },
});

const payload = (overrides: Record<string, unknown> = {}) => ({
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
const uninstallPayload = (overrides: Record<string, unknown> = {}) =>
  payload({ sharedSecret: undefined, eventType: 'uninstalled', ...overrides });

const request: RequestMeta = {
  ip: '203.0.113.7',
  userAgent: 'Atlassian HttpClient',
  requestId: 'req-1',
  method: 'POST',
  path: '/connect/installed',
};

describe(ConnectLifecycleService.name, () => {
  let stored: TenantEntity | null;
  let repository: { lifecycle: jest.Mock };
  let audit: { record: jest.Mock };
  let published: string[];
  let directory: TenantDirectory;
  let clock: MovableClock;
  let sut: ConnectLifecycleService;

  beforeEach(() => {
    stored = null;
    // The repository's transaction, reduced to what the service decides: the row it is shown,
    // and what it answers with.
    repository = {
      lifecycle: jest.fn(async (_key, _token, apply: (c: TenantEntity | null) => unknown) =>
        apply(stored),
      ),
    };
    audit = { record: jest.fn() };
    const bus = new LocalInvalidationBus();
    published = [];
    bus.subscribe('connect-tenant-changed', (clientKey) => published.push(clientKey));
    const config = {
      connect: { appKey: 'warden' },
      encryptionKey: { key: Buffer.alloc(32, 7) },
    } as unknown as WardenConfig;
    directory = new TenantDirectory(strict<TenantsRepository>({}), bus, config);
    clock = new MovableClock();
    sut = new ConnectLifecycleService(
      strict<TenantsRepository>(repository),
      directory,
      strict<AuditSink>(audit),
      clock,
      config,
    );
  });

  /** A tenant as an earlier callback left it. */
  function installedBefore(overrides: Partial<TenantEntity> = {}): TenantEntity {
    stored = Object.assign(new TenantEntity(), {
      clientKey: CLIENT_KEY,
      sharedSecret: directory.seal(CLIENT_KEY, SECRET),
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
    });
    return stored;
  }

  async function refusal(run: Promise<unknown>): Promise<DomainError> {
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof DomainError)) throw new Error(`expected a refusal, got ${String(err)}`);
    return err;
  }

  const answered = async () => (await repository.lifecycle.mock.results[0].value) as unknown;

  describe('install', () => {
    it('stores a new tenant with its secret sealed, serves it at once and tells the others', async () => {
      await sut.handle('installed', lifecycleCaller(), payload(), request);
      const [clientKey, token] = repository.lifecycle.mock.calls[0];
      expect([clientKey, token]).toEqual([CLIENT_KEY, { iat: IAT, digest: 'digest-1' }]);
      const row = (await answered()) as TenantEntity;
      expect(row).toMatchObject({
        clientKey: CLIENT_KEY,
        baseUrl: 'https://t1.atlassian.net',
        displayUrl: 'https://jira.t1.example',
        productType: 'jira',
        description: 'Atlassian JIRA at https://t1.atlassian.net',
        oauthClientId: 'oauth-t1',
        installed: true,
        enabled: true,
        installedAt: new Date(NOW),
        uninstalledAt: null,
        updatedAt: new Date(NOW),
      });
      expect(row.sharedSecret).not.toContain(SECRET);
      expect(directory.secretMatches(row, SECRET)).toBe(true);
      expect(directory.get(CLIENT_KEY)).toMatchObject({ active: true });
      expect(directory.get(CLIENT_KEY)!.secret.export().toString()).toBe(SECRET);
      expect(published).toEqual([CLIENT_KEY]);
    });

    it('records the install with where it came from', async () => {
      await sut.handle('installed', lifecycleCaller(), payload(), request);
      expect(audit.record).toHaveBeenCalledWith({
        event: 'connect.installed',
        outcome: 'success',
        actor: `connect:${CLIENT_KEY}`,
        authMethod: 'connect-install',
        credentialId: CLIENT_KEY,
        ip: '203.0.113.7',
        method: 'POST',
        path: '/connect/installed',
        status: null,
        reason: null,
        userAgent: 'Atlassian HttpClient',
        requestId: 'req-1',
        details: { baseUrl: 'https://t1.atlassian.net', productType: 'jira' },
      });
    });

    it("replaces the secret on a reinstall and keeps the administrator's switch", async () => {
      installedBefore({ enabled: false, installed: false, uninstalledAt: new Date(NOW - 1) });
      const newer = 'n'.repeat(40);
      await sut.handle(
        'installed',
        lifecycleCaller(IAT + 1, 'digest-2'),
        payload({ sharedSecret: newer, displayUrl: undefined, oauthClientId: undefined }),
        request,
      );
      const row = (await answered()) as TenantEntity;
      expect(row).toMatchObject({
        installed: true,
        enabled: false,
        uninstalledAt: null,
        displayUrl: null,
        oauthClientId: null,
      });
      expect(directory.secretMatches(row, newer)).toBe(true);
      expect(directory.secretMatches(row, SECRET)).toBe(false);
      expect(directory.get(CLIENT_KEY)).toMatchObject({ active: false });
    });

    it('refuses a token issued for another clientKey than the body names, changing nothing', async () => {
      const err = await refusal(
        sut.handle('installed', lifecycleCaller(IAT, 'd', 'jira:other'), payload(), request),
      );
      expect(err).toMatchObject({ status: 401, code: 'invalid_token' });
      expect(repository.lifecycle).not.toHaveBeenCalled();
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({
          event: 'connect.installed',
          outcome: 'failure',
          reason: 'invalid_token',
        }),
      );
    });
  });

  describe('the payload', () => {
    it.each([
      ['not an object', 'installed', 'a string'],
      ['an array', 'installed', [payload()]],
      ['null', 'installed', null],
    ])('is refused when %s', async (_name, event, body) => {
      const err = await refusal(sut.handle(event as 'installed', lifecycleCaller(), body, request));
      expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
    });

    it('names every field that is wrong, the secret among them on install', async () => {
      const err = await refusal(
        sut.handle(
          'installed',
          lifecycleCaller(),
          payload({ sharedSecret: undefined, baseUrl: 'not a url', productType: '' }),
          request,
        ),
      );
      const fields = (err.extras.fields?.errors as { field: string }[]).map((e) => e.field);
      expect(fields.sort()).toEqual(['baseUrl', 'productType', 'sharedSecret']);
    });

    it('refuses a short secret', async () => {
      const err = await refusal(
        sut.handle('installed', lifecycleCaller(), payload({ sharedSecret: 'short' }), request),
      );
      expect(err.code).toBe('validation_failed');
    });

    it('refuses the eventType of the other callback', async () => {
      const err = await refusal(
        sut.handle(
          'installed',
          lifecycleCaller(),
          uninstallPayload({ sharedSecret: SECRET }),
          request,
        ),
      );
      expect(err).toMatchObject({
        code: 'validation_failed',
        detail: 'eventType must be installed on this callback',
      });
    });

    it("refuses another app's payload", async () => {
      const err = await refusal(
        sut.handle('installed', lifecycleCaller(), payload({ key: 'other-app' }), request),
      );
      expect(err).toMatchObject({ status: 400, code: 'app_key_mismatch' });
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({ outcome: 'failure', reason: 'app_key_mismatch' }),
      );
    });

    it('ignores the fields Atlassian sends that Warden does not keep', async () => {
      await sut.handle(
        'installed',
        lifecycleCaller(),
        payload({ pluginsVersion: '1.0', serverVersion: '100', publicKey: 'MIIB...' }),
        request,
      );
      expect(repository.lifecycle).toHaveBeenCalledTimes(1);
    });
  });

  describe('each token once, in order', () => {
    type Row = [
      string,
      'installed' | 'uninstalled',
      Partial<TenantEntity>,
      number,
      string,
      Record<string, unknown>,
      'stored' | 'unchanged' | 'replayed',
    ];
    const same = {};
    const rows: Row[] = [
      [
        'a retried install (same token, same body)',
        'installed',
        {},
        IAT,
        'digest-1',
        same,
        'unchanged',
      ],
      [
        'a retried install with a trailing slash on the base URL',
        'installed',
        {},
        IAT,
        'digest-1',
        { baseUrl: 'https://t1.atlassian.net//' },
        'unchanged',
      ],
      [
        'a used install token with another secret',
        'installed',
        {},
        IAT,
        'digest-1',
        { sharedSecret: 'a'.repeat(40) },
        'replayed',
      ],
      [
        'a used install token with another base URL',
        'installed',
        {},
        IAT,
        'digest-1',
        { baseUrl: 'https://evil.example' },
        'replayed',
      ],
      [
        'a used install token after an uninstall',
        'installed',
        { installed: false },
        IAT,
        'digest-1',
        same,
        'replayed',
      ],
      [
        'an install token older than the last accepted',
        'installed',
        {},
        IAT - 1,
        'digest-9',
        same,
        'replayed',
      ],
      [
        'another install token of the same second',
        'installed',
        {},
        IAT,
        'digest-2',
        { sharedSecret: 'b'.repeat(40) },
        'stored',
      ],
      [
        'a newer install token',
        'installed',
        {},
        IAT + 1,
        'digest-3',
        { sharedSecret: 'c'.repeat(40) },
        'stored',
      ],
      [
        'a retried uninstall',
        'uninstalled',
        { installed: false },
        IAT,
        'digest-1',
        same,
        'unchanged',
      ],
      [
        'a used uninstall token after a reinstall',
        'uninstalled',
        { installed: true },
        IAT,
        'digest-1',
        same,
        'replayed',
      ],
      [
        'an uninstall token older than the last accepted',
        'uninstalled',
        {},
        IAT - 1,
        'digest-9',
        same,
        'replayed',
      ],
    ];

    it.each(rows)('%s: %s', async (_name, event, before, iat, digest, change, outcome) => {
      const current = installedBefore(before);
      const sealed = current.sharedSecret;
      const body = event === 'installed' ? payload(change) : uninstallPayload(change);
      const run = sut.handle(event, lifecycleCaller(iat, digest), body, request);
      if (outcome === 'replayed') {
        const err = await refusal(run);
        expect(err).toMatchObject({ status: 401, code: 'lifecycle_replayed' });
        expect(published).toEqual([]);
        return;
      }
      await run;
      const row = (await answered()) as TenantEntity;
      expect(row).toBe(current);
      if (outcome === 'unchanged') {
        expect(row.sharedSecret).toBe(sealed);
        expect(row.updatedAt).toEqual(new Date(NOW - 60_000));
      } else {
        expect(row.updatedAt).toEqual(new Date(NOW));
        expect(directory.secretMatches(row, change.sharedSecret as string)).toBe(true);
      }
    });
  });

  describe('uninstall', () => {
    it("stops the tenant's tokens at once and keeps its record and switch", async () => {
      installedBefore({ enabled: false });
      await sut.handle(
        'uninstalled',
        lifecycleCaller(IAT + 5, 'digest-5'),
        uninstallPayload(),
        request,
      );
      const row = (await answered()) as TenantEntity;
      expect(row).toMatchObject({
        installed: false,
        enabled: false,
        uninstalledAt: new Date(NOW),
        updatedAt: new Date(NOW),
      });
      expect(directory.secretMatches(row, SECRET)).toBe(true);
      expect(directory.get(CLIENT_KEY)).toMatchObject({ active: false });
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({ event: 'connect.uninstalled', outcome: 'success' }),
      );
    });

    it('answers 404 for a tenant never installed', async () => {
      const err = await refusal(
        sut.handle('uninstalled', lifecycleCaller(), uninstallPayload(), request),
      );
      expect(err).toMatchObject({ status: 404, code: 'tenant_not_found' });
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({ outcome: 'failure', reason: 'tenant_not_found' }),
      );
    });
  });

  it('lets a storage failure through unrecorded', async () => {
    const outage = new Error('database is locked');
    repository.lifecycle.mockRejectedValue(outage);
    await expect(sut.handle('installed', lifecycleCaller(), payload(), request)).rejects.toBe(
      outage,
    );
    expect(audit.record).not.toHaveBeenCalled();
    expect(published).toEqual([]);
  });

  it('shows a tenant without its secret', () => {
    const view = tenantView(installedBefore({ uninstalledAt: new Date(NOW) }));
    expect(view).toEqual({
      clientKey: CLIENT_KEY,
      baseUrl: 'https://t1.atlassian.net',
      displayUrl: null,
      productType: 'jira',
      description: null,
      oauthClientId: null,
      installed: true,
      enabled: true,
      installedAt: new Date(NOW - 60_000).toISOString(),
      uninstalledAt: new Date(NOW).toISOString(),
    });
  });
});
