import {
  CLIENT_KEY,
  connectLifecycleSpec,
  IAT,
  lifecycleCaller,
  NOW,
  payload,
  refusal,
  request,
  SECRET,
  uninstallPayload,
} from '../../test/support/connect-lifecycle';
import { ConnectLifecycleService, tenantView } from './connect-lifecycle.service';
import { TenantEntity } from './tenants/tenant.entity';

describe(ConnectLifecycleService.name, () => {
  const spec = connectLifecycleSpec();
  const { installedBefore, answered } = spec;
  let { sut, repository, audit, published, directory } = spec;
  beforeEach(() => ({ sut, repository, audit, published, directory } = spec));

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
