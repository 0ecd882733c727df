import {
  CALLER,
  exportText,
  FakeHandler,
  IMPORT,
  migrationServiceSpec,
} from '../../test/support/migration-service';
import { DownloadError } from './download.client';
import { MigrationItem } from './handlers/migration-handler';
import { MigrationService } from './migration.service';

describe(MigrationService.name, () => {
  const spec = migrationServiceSpec();
  const { result } = spec;
  let { sut, store, operations, downloads, audit, handlers, logged } = spec;
  beforeEach(() => ({ sut, store, operations, downloads, audit, handlers, logged } = spec));

  describe('import', () => {
    it('accepts the call at once and imports in the background', async () => {
      const handler = new FakeHandler('warden.configuration');
      handlers.register(handler);
      let deliver!: (text: string) => void;
      downloads.download.mockReturnValue(new Promise<string>((resolve) => (deliver = resolve)));
      await expect(sut.importConfiguration(IMPORT, CALLER)).resolves.toEqual({
        operationId: 'op-1',
        status: 'running',
      });
      expect(store.begin).toHaveBeenCalledWith('op-1', 'import', 'op-token', false);
      expect(downloads.check).toHaveBeenCalledWith(IMPORT.downloadLink);
      expect(handler.imported).toHaveLength(0);
      deliver(exportText({ 'warden.configuration': { x: 1 } }));
      await sut.idle();
      expect(handler.imported.map((i) => [i.data, i.context.dryRun])).toEqual([[{ x: 1 }, false]]);
      expect(result()).toMatchObject({ status: 'succeeded', problems: [], items: [] });
      expect(store.end).toHaveBeenCalledWith('op-1', 'succeeded', {
        dryRun: false,
        changes: [],
        problems: [],
        items: [],
        resultDelivered: true,
      });
    });

    it('hands a dry run to the store and the handlers, and says so in the result', async () => {
      handlers.register(
        new FakeHandler('warden.configuration', undefined, async () => ({
          changes: [{ target: 'group', key: 'devs', action: 'create' }],
          problems: [],
        })),
      );
      downloads.download.mockResolvedValue(exportText({ 'warden.configuration': {} }));
      await sut.importConfiguration({ ...IMPORT, dryRun: true }, CALLER);
      await sut.idle();
      expect(store.begin).toHaveBeenCalledWith('op-1', 'import', 'op-token', true);
      const { resultHtml, items } = result();
      expect(items).toEqual([{ target: 'group', key: 'devs', outcome: 'created' }]);
      expect(resultHtml).toContain('Warden import (dry run)');
      expect(resultHtml).toContain('would be created');
      expect(resultHtml).toContain('1 change(s) would change');
    });

    it('refuses a download link the client will not fetch with 400, reporting it to CMJ', async () => {
      downloads.check.mockImplementation(() => {
        throw new DownloadError('The download link must be https');
      });
      const err = await sut.importConfiguration(IMPORT, CALLER).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 400, code: 'download_not_allowed' });
      await sut.idle();
      expect(downloads.download).not.toHaveBeenCalled();
      expect(result()).toMatchObject({
        status: 'failed',
        problems: [{ message: 'The download link must be https', severity: 'ERROR' }],
      });
      expect(store.end).toHaveBeenCalledWith('op-1', 'failed', expect.anything());
    });

    it.each([
      [
        'a failed download',
        () => Promise.reject(new DownloadError('CMJ answered 403', 403)),
        'CMJ answered 403',
      ],
      ['a file that is not JSON', async () => '<html>', 'The downloaded export is not JSON'],
      [
        'JSON that is not an export',
        async () => '{"format":"other","data":{}}',
        'The downloaded file is not a Warden export',
      ],
      [
        'an export whose data is a list',
        async () => exportText([] as never),
        'The downloaded file is not a Warden export',
      ],
      [
        'an export of another version',
        async () => exportText({}, { version: 2 }),
        'The export has version 2; this instance reads 1',
      ],
    ])('fails the import on %s, saying why', async (_name, download, message) => {
      downloads.download.mockImplementation(download);
      await sut.importConfiguration(IMPORT, CALLER);
      await sut.idle();
      expect(result()).toMatchObject({
        status: 'failed',
        problems: [{ message, severity: 'ERROR' }],
      });
      expect(logged.error).not.toHaveBeenCalled();
    });

    it('fails the import without its internals when a handler breaks, logging them', async () => {
      handlers.register(
        new FakeHandler('warden.configuration', undefined, async () => {
          throw new Error('SQLITE_BUSY at row 7');
        }),
      );
      downloads.download.mockResolvedValue(exportText({ 'warden.configuration': {} }));
      await sut.importConfiguration(IMPORT, CALLER);
      await sut.idle();
      expect(result().problems).toEqual([
        { message: 'The import failed on the target instance', severity: 'ERROR' },
      ]);
      expect(logged.error).toHaveBeenCalledWith(expect.stringContaining('SQLITE_BUSY'));
    });

    it('warns of data no handler here imports, and succeeds', async () => {
      downloads.download.mockResolvedValue(exportText({ 'other.app': {} }));
      await sut.importConfiguration(IMPORT, CALLER);
      await sut.idle();
      expect(result()).toMatchObject({
        status: 'succeeded',
        problems: [
          {
            message: 'The export holds other.app data, which no handler on this instance imports',
            severity: 'WARNING',
          },
        ],
      });
    });

    it('is partial when some items were applied and others failed', async () => {
      const items: MigrationItem[] = [
        { target: 'group', key: 'devs', outcome: 'created' },
        { target: 'user', key: 'bob', outcome: 'failed', reason: 'name taken' },
      ];
      handlers.register(
        new FakeHandler('warden.configuration', undefined, async () => ({
          changes: [{ target: 'group', key: 'devs', action: 'create' }],
          problems: [{ message: 'bob could not be created', severity: 'ERROR' }],
          items,
        })),
      );
      downloads.download.mockResolvedValue(exportText({ 'warden.configuration': {} }));
      await sut.importConfiguration(IMPORT, CALLER);
      await sut.idle();
      expect(result()).toMatchObject({ status: 'partial', items });
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({
          event: 'spi.import.partial',
          outcome: 'failure',
          details: expect.objectContaining({
            changes: 1,
            failedItems: 1,
            problems: ['ERROR: bob could not be created'],
          }),
        }),
      );
    });

    it("asks CMJ's Operations API for mappings, for this operation", async () => {
      operations.mappings.mockResolvedValue([{ sourceId: 's1', targetId: 't1' }]);
      let answered: unknown;
      handlers.register(
        new FakeHandler('warden.configuration', undefined, async (context) => {
          answered = await context.mappings('user', ['s1']);
          return { changes: [], problems: [] };
        }),
      );
      downloads.download.mockResolvedValue(exportText({ 'warden.configuration': {} }));
      await sut.importConfiguration(IMPORT, CALLER);
      await sut.idle();
      expect(operations.mappings).toHaveBeenCalledWith('op-1', 'user', ['s1']);
      expect(answered).toEqual([{ sourceId: 's1', targetId: 't1' }]);
    });

    it('escapes what the export names in the result page', async () => {
      handlers.register(
        new FakeHandler('warden.configuration', undefined, async () => ({
          changes: [],
          problems: [{ message: '<img src=x onerror=alert(1)>', severity: 'WARNING' }],
          items: [{ target: 'group', key: '"><script>x</script>', outcome: 'skipped' }],
        })),
      );
      downloads.download.mockResolvedValue(exportText({ 'warden.configuration': {} }));
      await sut.importConfiguration(IMPORT, CALLER);
      await sut.idle();
      const { resultHtml } = result();
      expect(resultHtml).not.toContain('<script>');
      expect(resultHtml).not.toContain('<img');
      expect(resultHtml).toContain('&#34;&#62;&#60;script&#62;');
    });

    it('ends the operation once, after the last of its calls still working here', async () => {
      handlers.register(new FakeHandler('warden.configuration'));
      const deliveries: ((text: string) => void)[] = [];
      downloads.download.mockImplementation(
        () => new Promise<string>((resolve) => deliveries.push(resolve)),
      );
      await sut.importConfiguration(IMPORT, CALLER);
      await sut.importConfiguration(IMPORT, CALLER);
      deliveries[0](exportText({}));
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(store.end).not.toHaveBeenCalled();
      deliveries[1](exportText({}));
      await sut.idle();
      expect(store.end).toHaveBeenCalledTimes(1);
      expect(operations.result).toHaveBeenCalledTimes(2);
    });
  });
});
