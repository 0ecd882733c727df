import { Logger } from '@nestjs/common';
import { SecretBox } from '../../common/crypto/secret-box';
import { LocalInvalidationBus } from '../../common/invalidation/invalidation-bus';
import { WardenConfig } from '../../config/warden-config';
import { strict } from '../../../test/support/strict-mock';
import { secretContext, TenantDirectory } from './tenant-directory.service';
import { TenantEntity } from './tenant.entity';
import { TenantsRepository } from './tenants.repository';

const T = Date.parse('2026-12-01T09:00:00Z');
const KEY = Buffer.alloc(32, 7);
const box = new SecretBox(KEY);

function row(clientKey: string, overrides: Partial<TenantEntity> & { secret?: string } = {}) {
  const { secret = `${clientKey}-secret-0123456789abcdef0123456789`, ...rest } = overrides;
  return Object.assign(new TenantEntity(), {
    clientKey,
    sharedSecret: box.seal(secret, secretContext(clientKey)),
    baseUrl: `https://${clientKey.replace(':', '-')}.atlassian.net`,
    displayUrl: null,
    productType: 'jira',
    description: null,
    oauthClientId: 'oauth-1',
    installed: true,
    enabled: true,
    installedAt: new Date(T - 60_000),
    uninstalledAt: null,
    updatedAt: new Date(T - 60_000),
    lifecycleIat: '0',
    lifecycleDigests: '',
    ...rest,
  });
}

describe(TenantDirectory.name, () => {
  let repository: { all: jest.Mock; find: jest.Mock; changedSince: jest.Mock };
  let bus: LocalInvalidationBus;
  let published: string[];
  let sut: TenantDirectory;

  beforeEach(() => {
    jest.useFakeTimers({ now: T });
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    repository = {
      all: jest.fn(async () => [row('jira:a'), row('jira:b', { enabled: false })]),
      find: jest.fn(),
      changedSince: jest.fn(async () => []),
    };
    bus = new LocalInvalidationBus();
    published = [];
    bus.subscribe('connect-tenant-changed', (key) => published.push(key));
    const config = { encryptionKey: { key: KEY } } as unknown as WardenConfig;
    sut = new TenantDirectory(strict<TenantsRepository>(repository), bus, config);
  });
  afterEach(() => {
    sut.onApplicationShutdown();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('holds every stored tenant from the start, its secret opened', async () => {
    await sut.onModuleInit();
    expect(sut.get('jira:a')).toEqual({
      clientKey: 'jira:a',
      baseUrl: 'https://jira-a.atlassian.net',
      displayUrl: null,
      productType: 'jira',
      oauthClientId: 'oauth-1',
      active: true,
      secret: expect.anything(),
    });
    expect(sut.get('jira:a')!.secret.export().toString()).toBe(
      'jira:a-secret-0123456789abcdef0123456789',
    );
    expect(sut.get('jira:b')!.active).toBe(false);
    expect(sut.get('jira:nobody')).toBeUndefined();
  });

  it('serves no tenant that is uninstalled as active', async () => {
    repository.all.mockResolvedValue([row('jira:a', { installed: false })]);
    await sut.onModuleInit();
    expect(sut.get('jira:a')!.active).toBe(false);
  });

  it('drops a tenant whose secret cannot be opened, such as one moved from another tenant', async () => {
    const moved = row('jira:a');
    moved.sharedSecret = row('jira:b').sharedSecret;
    repository.all.mockResolvedValue([moved]);
    await sut.onModuleInit();
    expect(sut.get('jira:a')).toBeUndefined();
  });

  it('seals a secret for its tenant only, and tells whether a candidate is it', () => {
    const sealed = row('jira:a', { sharedSecret: sut.seal('jira:a', 'the-secret') });
    expect(sealed.sharedSecret).not.toContain('the-secret');
    expect(sut.secretMatches(sealed, 'the-secret')).toBe(true);
    expect(sut.secretMatches(sealed, 'the-secreT')).toBe(false);
    expect(sut.secretMatches(sealed, 'the-secret-longer')).toBe(false);
    expect(sut.secretMatches(sealed, '')).toBe(false);
    const moved = { ...sealed, clientKey: 'jira:b' } as TenantEntity;
    expect(sut.secretMatches(moved, 'the-secret')).toBe(false);
  });

  it('takes a change at once and tells the other instances', async () => {
    await sut.onModuleInit();
    const stored = row('jira:c', { updatedAt: new Date(T) });
    repository.find.mockResolvedValue(stored);
    sut.changed(stored);
    expect(sut.get('jira:c')!.active).toBe(true);
    expect(published).toEqual(['jira:c']);
    await jest.advanceTimersByTimeAsync(0);
    expect(sut.get('jira:c')!.active).toBe(true);
  });

  it('reloads a tenant another instance changed, and forgets one that is gone', async () => {
    await sut.onModuleInit();
    repository.find.mockResolvedValueOnce(
      row('jira:a', { enabled: false, updatedAt: new Date(T) }),
    );
    bus.publish('connect-tenant-changed', 'jira:a');
    await jest.advanceTimersByTimeAsync(0);
    expect(repository.find).toHaveBeenCalledWith('jira:a');
    expect(sut.get('jira:a')!.active).toBe(false);
    repository.find.mockResolvedValueOnce(null);
    bus.publish('connect-tenant-changed', 'jira:b');
    await jest.advanceTimersByTimeAsync(0);
    expect(sut.get('jira:b')).toBeUndefined();
  });

  it('keeps what it holds when a reload fails', async () => {
    await sut.onModuleInit();
    repository.find.mockRejectedValue(new Error('database is locked'));
    bus.publish('connect-tenant-changed', 'jira:a');
    await jest.advanceTimersByTimeAsync(0);
    expect(sut.get('jira:a')!.active).toBe(true);
  });

  it('polls for rows changed since the newest seen, with an overlap', async () => {
    await sut.onModuleInit();
    repository.changedSince.mockResolvedValueOnce([
      row('jira:d', { updatedAt: new Date(T + 1_000) }),
    ]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(repository.changedSince).toHaveBeenLastCalledWith(new Date(T - 60_000 - 5_000));
    expect(sut.get('jira:d')).toBeDefined();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(repository.changedSince).toHaveBeenLastCalledWith(new Date(T + 1_000 - 5_000));
  });

  it('never goes back to an older row than the one it holds', async () => {
    await sut.onModuleInit();
    const stored = row('jira:a', { enabled: false, updatedAt: new Date(T) });
    // The bus brings the change back to this instance too, which reloads the stored row.
    repository.find.mockResolvedValue(stored);
    sut.changed(stored);
    // A poll that read the row before the change answers after it.
    repository.changedSince.mockResolvedValueOnce([
      row('jira:a', { enabled: true, updatedAt: new Date(T - 1_000) }),
    ]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(sut.get('jira:a')!.active).toBe(false);
  });

  it('stops polling on shutdown', async () => {
    await sut.onModuleInit();
    sut.onApplicationShutdown();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(repository.changedSince).not.toHaveBeenCalled();
  });
});
