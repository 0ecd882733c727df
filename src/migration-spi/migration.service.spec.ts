import { DomainError } from '../common/problem/domain-error';
import {
  CALL,
  CALLER,
  exportText,
  FakeHandler,
  migrationServiceSpec,
} from '../../test/support/migration-service';
import { EXPORT_FORMAT, EXPORT_VERSION } from './export-document';
import { MigrationService } from './migration.service';

describe(MigrationService.name, () => {
  const spec = migrationServiceSpec();
  const { progressSent, result } = spec;
  let { sut, store, operations, audit, handlers, logged } = spec;
  beforeEach(() => ({ sut, store, operations, audit, handlers, logged } = spec));

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
