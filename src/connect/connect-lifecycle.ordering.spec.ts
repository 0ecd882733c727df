import {
  connectLifecycleSpec,
  IAT,
  lifecycleCaller,
  NOW,
  payload,
  refusal,
  request,
  uninstallPayload,
} from '../../test/support/connect-lifecycle';
import { ConnectLifecycleService } from './connect-lifecycle.service';
import { TenantEntity } from './tenants/tenant.entity';

describe(ConnectLifecycleService.name, () => {
  const spec = connectLifecycleSpec();
  const { installedBefore, answered } = spec;
  let { sut, published, directory } = spec;
  beforeEach(() => ({ sut, published, directory } = spec));

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
});
