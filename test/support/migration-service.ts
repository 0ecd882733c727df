import { Logger } from '@nestjs/common';
import { AuditSink } from '../../src/audit/audit.port';
import { WardenConfig } from '../../src/config/warden-config';
import { DownloadClient } from '../../src/migration-spi/download.client';
import { EXPORT_FORMAT, EXPORT_VERSION } from '../../src/migration-spi/export-document';
import {
  ImportContext,
  ImportReport,
  MigrationHandler,
} from '../../src/migration-spi/handlers/migration-handler';
import { MigrationHandlers } from '../../src/migration-spi/handlers/migration-handlers.service';
import { MigrationService, SpiCaller } from '../../src/migration-spi/migration.service';
import { OperationStore } from '../../src/migration-spi/operations/operation-store.service';
import { OperationsApiClient } from '../../src/migration-spi/operations/operations-api.client';
import { strict } from './strict-mock';

export const CALLER: SpiCaller = {
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
export const CALL = { operationId: 'op-1', operationToken: 'op-token' };
export const IMPORT = { ...CALL, downloadLink: 'https://download.cmj.example/op-1' };

/** A migration handler whose export and import the test decides. */
export class FakeHandler extends MigrationHandler {
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

export const exportText = (
  data: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
) =>
  JSON.stringify({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    appKey: 'warden',
    source: 'https://source.example',
    exportedAt: '2026-12-01T09:00:00.000Z',
    data,
    ...overrides,
  });

export interface MigrationServiceSpec {
  store: { begin: jest.Mock; end: jest.Mock };
  operations: { progress: jest.Mock; result: jest.Mock; mappings: jest.Mock };
  downloads: { check: jest.Mock; download: jest.Mock };
  audit: { record: jest.Mock };
  handlers: MigrationHandlers;
  logged: { warn: jest.SpyInstance; error: jest.SpyInstance };
  sut: MigrationService;
  /** The fractions reported to CMJ, in order. */
  progressSent(): number[];
  /** The one result reported to CMJ. */
  result(): any;
}

/**
 * A MigrationService over strict mocks, built afresh before each test of the describe block that
 * calls this; the fields are replaced each time, so read them in a beforeEach or a test.
 */
export function migrationServiceSpec(): MigrationServiceSpec {
  const spec = {
    progressSent: () => spec.operations.progress.mock.calls.map(([, fraction]) => fraction),
    result: () => {
      expect(spec.operations.result).toHaveBeenCalledTimes(1);
      return spec.operations.result.mock.calls[0][1];
    },
  } as MigrationServiceSpec;

  beforeEach(() => {
    const logged = {
      warn: jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined),
      error: jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined),
    };
    const store = { begin: jest.fn(async () => undefined), end: jest.fn(async () => undefined) };
    const operations = {
      progress: jest.fn(async () => undefined),
      result: jest.fn(async () => undefined),
      mappings: jest.fn(async () => []),
    };
    const downloads = { check: jest.fn(), download: jest.fn(async () => exportText({})) };
    const audit = { record: jest.fn() };
    const handlers = new MigrationHandlers();
    const config = {
      baseUrl: 'https://warden.example.test',
      connect: { appKey: 'warden' },
    } as unknown as WardenConfig;
    const sut = new MigrationService(
      strict<OperationStore>(store),
      strict<OperationsApiClient>(operations),
      strict<DownloadClient>(downloads),
      handlers,
      strict<AuditSink>(audit),
      config,
    );
    Object.assign(spec, { logged, store, operations, downloads, audit, handlers, sut });
  });
  afterEach(() => jest.restoreAllMocks());

  return spec;
}
