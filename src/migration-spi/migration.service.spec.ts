import { Logger } from '@nestjs/common';
import { AuditSink } from '../audit/audit.port';
import { DomainError } from '../common/problem/domain-error';
import { WardenConfig } from '../config/warden-config';
import { strict } from '../../test/support/strict-mock';
import { DownloadClient, DownloadError } from './download.client';
import {
  ImportContext,
  ImportReport,
  MigrationHandler,
  MigrationItem,
} from './handlers/migration-handler';
import { MigrationHandlers } from './handlers/migration-handlers.service';
import { EXPORT_FORMAT, EXPORT_VERSION } from './export-document';
import { MigrationService, SpiCaller } from './migration.service';
import { outcomeOf } from './operation-result';
import { OperationStore } from './operations/operation-store.service';
import { OperationProblem, OperationsApiClient } from './operations/operations-api.client';

const CALLER: SpiCaller = {
  principal: {
    id: 'cmj',
    username: 'cmj',
    groups: [],
    authMethod: 'cmj-spi',
    credentialId: 'cmj-key-1',
    scopes: [],
  },
  ip: '203.0.113.7',
  requestId: 'r1',
};
const CALL = { operationId: 'op-1', operationToken: 'op-token' };
const IMPORT = { ...CALL, downloadLink: 'https://download.cmj.example/op-1' };

/** A migration handler whose export and import the test decides. */
class FakeHandler extends MigrationHandler {
  readonly imported: { data: unknown; context: ImportContext }[] = [];
  constructor(
    readonly type: string,
    private readonly exported: () => Promise<unknown> = async () => ({ of: type }),
    private readonly report: (context: ImportContext) => Promise<ImportReport> = async () => ({
      changes: [],
      problems: [],
    }),
  ) {
    super();
  }
  exportData(): Promise<unknown> {
    return this.exported();
  }
  importData(data: unknown, context: ImportContext): Promise<ImportReport> {
    this.imported.push({ data, context });
    return this.report(context);
  }
}

const exportText = (data: Record<string, unknown>, overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    appKey: 'warden',
    source: 'https://source.example',
    exportedAt: '2026-12-01T09:00:00.000Z',
    data,
    ...overrides,
  });

describe(MigrationService.name, () => {
  let store: { begin: jest.Mock; end: jest.Mock };
  let operations: { progress: jest.Mock; result: jest.Mock; mappings: jest.Mock };
  let downloads: { check: jest.Mock; download: jest.Mock };
  let audit: { record: jest.Mock };
  let handlers: MigrationHandlers;
  let logged: { warn: jest.SpyInstance; error: jest.SpyInstance };
  let sut: MigrationService;

  beforeEach(() => {
    logged = {
      warn: jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined),
      error: jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined),
    };
    store = { begin: jest.fn(async () => undefined), end: jest.fn(async () => undefined) };
    operations = {
      progress: jest.fn(async () => undefined),
      result: jest.fn(async () => undefined),
      mappings: jest.fn(async () => []),
    };
    downloads = { check: jest.fn(), download: jest.fn(async () => exportText({})) };
    audit = { record: jest.fn() };
    handlers = new MigrationHandlers();
    const config = {
      baseUrl: 'https://warden.example.test',
      connect: { appKey: 'warden' },
    } as unknown as WardenConfig;
    sut = new MigrationService(
      strict<OperationStore>(store),
      strict<OperationsApiClient>(operations),
      strict<DownloadClient>(downloads),
      handlers,
      strict<AuditSink>(audit),
      config,
    );
  });
  afterEach(() => jest.restoreAllMocks());

  const progressSent = () => operations.progress.mock.calls.map(([, fraction]) => fraction);
  const result = () => {
    expect(operations.result).toHaveBeenCalledTimes(1);
    return operations.result.mock.calls[0][1];
  };

  describe('the calls CMJ makes', () => {
    it.each([
      ['not an object', 'op-1'],
      ['an array', [CALL]],
      ['null', null],
      ['without an operation id', { operationToken: 't' }],
      ['with the operation id ..', { ...CALL, operationId: '..' }],
      ['with a space in the token', { ...CALL, operationToken: 'a b' }],
    ])('refuses a call %s with 400, starting nothing', async (_name, body) => {
      const err = await sut.exportConfiguration(body, CALLER).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
      expect(store.begin).not.toHaveBeenCalled();
    });

    it('names the fields that are wrong', async () => {
      const err = (await sut
        .importConfiguration({ ...CALL, dryRun: 'yes' }, CALLER)
        .catch((e: unknown) => e)) as DomainError;
      const fields = (err.extras.fields?.errors as { field: string }[]).map((e) => e.field);
      expect(fields.sort()).toEqual(['downloadLink', 'dryRun']);
    });

    it('ignores what CMJ sends that Warden does not use', async () => {
      await sut.exportConfiguration({ ...CALL, cloudId: 'c-1', extra: { a: 1 } }, CALLER);
      expect(store.begin).toHaveBeenCalledWith('op-1', 'export', 'op-token', false);
    });
  });

  describe('export', () => {
    beforeEach(() => {
      handlers.register(new FakeHandler('warden.configuration'));
      handlers.register(new FakeHandler('app.things', async () => [1, 2]));
    });

    it("answers every handler's data in one document", async () => {
      const document = await sut.exportConfiguration(CALL, CALLER);
      expect(document).toEqual({
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        appKey: 'warden',
        source: 'https://warden.example.test',
        exportedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        data: { 'warden.configuration': { of: 'warden.configuration' }, 'app.things': [1, 2] },
      });
    });

    it('reports progress up to 1, then the result, then ends the operation and audits it', async () => {
      const order: string[] = [];
      operations.progress.mockImplementation(
        async (_id, f: number) => void order.push(`progress ${f}`),
      );
      operations.result.mockImplementation(async () => void order.push('result'));
      store.end.mockImplementation(async () => void order.push('end'));
      audit.record.mockImplementation(() => void order.push('audit'));
      await sut.exportConfiguration(CALL, CALLER);
      await sut.idle();
      expect(order.at(-4)).toBe('progress 1');
      expect(order.slice(-3)).toEqual(['result', 'end', 'audit']);
      const sent = progressSent();
      expect(sent[0]).toBe(0);
      expect([...sent].sort((a, b) => a - b)).toEqual(sent);
      expect(operations.progress.mock.calls.every(([id]) => id === 'op-1')).toBe(true);
      expect(result()).toEqual({ resultHtml: expect.stringContaining('Exported'), problems: [] });
      expect(store.end).toHaveBeenCalledWith('op-1', 'succeeded', {
        dryRun: false,
        changes: [],
        problems: [],
        resultDelivered: true,
      });
      expect(audit.record).toHaveBeenCalledWith({
        event: 'spi.export.succeeded',
        outcome: 'success',
        actor: 'cmj',
        authMethod: 'cmj-spi',
        credentialId: 'cmj-key-1',
        ip: '203.0.113.7',
        requestId: 'r1',
        details: {
          operationId: 'op-1',
          dryRun: false,
          changes: 0,
          failedItems: 0,
          problems: [],
          resultDelivered: true,
        },
      });
    });

    it('reports a failed export to CMJ and still fails the call', async () => {
      const broken = new Error('disk on fire');
      handlers.register(
        new FakeHandler('app.broken', async () => {
          throw broken;
        }),
      );
      await expect(sut.exportConfiguration(CALL, CALLER)).rejects.toBe(broken);
      await sut.idle();
      expect(result().problems).toEqual([
        { message: 'The export failed on the source instance', severity: 'ERROR' },
      ]);
      expect(progressSent()).not.toContain(1);
      expect(store.end).toHaveBeenCalledWith('op-1', 'failed', expect.anything());
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({ event: 'spi.export.failed', outcome: 'failure' }),
      );
    });

    it('stops reporting progress after the first failed report, and still delivers the result', async () => {
      operations.progress.mockRejectedValue(new Error('503'));
      await sut.exportConfiguration(CALL, CALLER);
      await sut.idle();
      expect(operations.progress).toHaveBeenCalledTimes(1);
      expect(result().problems).toEqual([]);
      expect(logged.warn).toHaveBeenCalledWith('Progress reports stopped: 503');
    });

    it('records a result that could not be delivered', async () => {
      operations.result.mockRejectedValue(new Error('timeout'));
      await sut.exportConfiguration(CALL, CALLER);
      await sut.idle();
      expect(store.end).toHaveBeenCalledWith(
        'op-1',
        'succeeded',
        expect.objectContaining({ resultDelivered: false }),
      );
      expect(audit.record.mock.calls[0][0].details.resultDelivered).toBe(false);
    });
  });

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

  describe('importDocument', () => {
    it("scales each handler's progress into its share of the whole", async () => {
      handlers.register(
        new FakeHandler('a', undefined, async ({ progress }) => {
          progress(0.5);
          progress(2);
          return { changes: [], problems: [] };
        }),
      );
      handlers.register(
        new FakeHandler('b', undefined, async ({ progress }) => {
          progress(1);
          return { changes: [], problems: [] };
        }),
      );
      const seen: number[] = [];
      await sut.importDocument(exportText({ a: {}, b: {} }), {
        dryRun: false,
        progress: (f) => seen.push(f),
      });
      expect(seen).toEqual([0.2, 0.2 + 0.375 / 2, 0.575, 0.95]);
    });

    it('has no mapping service outside a CMJ operation', async () => {
      handlers.register(
        new FakeHandler('a', undefined, async (context) => {
          await context.mappings('user', ['s1']);
          return { changes: [], problems: [] };
        }),
      );
      await expect(sut.importDocument(exportText({ a: {} }), { dryRun: true })).rejects.toThrow(
        'No mapping service outside a CMJ operation',
      );
    });
  });
});

describe(outcomeOf.name, () => {
  const error: OperationProblem = { message: 'e', severity: 'ERROR' };
  const warning: OperationProblem = { message: 'w', severity: 'WARNING' };
  const item = (outcome: MigrationItem['outcome']): MigrationItem => ({
    target: 'group',
    key: 'k',
    outcome,
  });

  it.each([
    ['no problems', [], [], 'succeeded'],
    ['warnings only, with failed items', [warning], [item('failed')], 'succeeded'],
    ['an error, nothing applied', [error], [item('failed'), item('skipped')], 'failed'],
    ['an error, an item created', [error], [item('created'), item('failed')], 'partial'],
    ['an error, an item updated', [error], [item('updated')], 'partial'],
  ] as const)('%s → %s', (_name, problems, items, expected) => {
    expect(outcomeOf([...problems], [...items])).toBe(expected);
  });
});
