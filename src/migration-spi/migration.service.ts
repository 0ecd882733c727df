import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AuditSink } from '../audit/audit.port';
import { Principal } from '../common/principal';
import { Problems } from '../common/problem/domain-error';
import { flattenValidationErrors } from '../common/validation-errors';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { DownloadClient, DownloadError } from './download.client';
import { SpiCallDto, SpiImportDto } from './dto/spi.dto';
import {
  ImportContext,
  ImportReport,
  MigrationChange,
  MigrationItem,
} from './handlers/migration-handler';
import { MigrationHandlers } from './handlers/migration-handlers.service';
import { OperationStore } from './operations/operation-store.service';
import {
  OperationProblem,
  OperationResult,
  OperationsApiClient,
} from './operations/operations-api.client';
import {
  DocumentError,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  ExportDocument,
  parseDocument,
} from './export-document';
import { itemOf, outcomeOf, resultHtml } from './operation-result';
import { ProgressReporter } from './progress-reporter';

export interface SpiCaller {
  principal: Principal;
  ip: string;
  requestId: string;
}

/** Background work is given this long to end on shutdown. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * The SPI's two operations. Export (on a source instance) answers the export document at once
 * and reports progress and the result to CMJ. Import (on a target) accepts the call (202), then
 * downloads the document from CMJ's signed link, runs every handler (or only judges, in a dry
 * run), and reports progress and the result, with a problem for whatever could not be mapped.
 */
@Injectable()
export class MigrationService implements OnApplicationShutdown {
  private readonly logger = new Logger(MigrationService.name);
  private readonly running = new Set<Promise<void>>();
  /** Calls of each operation still working here: its token is wiped when the last one ends. */
  private readonly active = new Map<string, number>();

  constructor(
    private readonly store: OperationStore,
    private readonly operations: OperationsApiClient,
    private readonly downloads: DownloadClient,
    private readonly handlers: MigrationHandlers,
    private readonly audit: AuditSink,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  /** Background work ends (or is given up on) before the database closes. */
  async onApplicationShutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
    });
    await Promise.race([Promise.allSettled([...this.running]), grace]);
    clearTimeout(timer);
    if (this.running.size > 0)
      this.logger.warn(`${this.running.size} migration task(s) still running at shutdown`);
  }

  /** Whatever is still running (tests wait for it). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  async exportConfiguration(body: unknown, caller: SpiCaller): Promise<ExportDocument> {
    const call = await validated(SpiCallDto, body);
    await this.store.begin(call.operationId, 'export', call.operationToken, false);
    this.enter(call.operationId);
    const reporter = this.reporter(call.operationId);
    reporter.report(0);
    let document: ExportDocument;
    try {
      document = await this.exportDocument((fraction) => reporter.report(fraction));
    } catch (err) {
      this.finish(
        call.operationId,
        'export',
        reporter,
        caller,
        false,
        [],
        [{ message: 'The export failed on the source instance', severity: 'ERROR' }],
      );
      throw err;
    }
    this.finish(call.operationId, 'export', reporter, caller, false, [], []);
    return document;
  }

  /** Every handler's data in one document (the SPI's export, and the CLI's export-config). */
  async exportDocument(
    progress: (fraction: number) => void = () => undefined,
  ): Promise<ExportDocument> {
    const data: Record<string, unknown> = {};
    const handlers = this.handlers.all();
    for (const [i, handler] of handlers.entries()) {
      data[handler.type] = await handler.exportData();
      progress((i + 1) / handlers.length);
    }
    return {
      format: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      appKey: this.config.connect.appKey,
      source: this.config.baseUrl,
      exportedAt: new Date().toISOString(),
      data,
    };
  }

  /**
   * Imports an export document through the handlers (the CLI's import-config; the SPI's import
   * runs the same after its download). Problems are reported, not thrown.
   */
  async importDocument(
    text: string,
    options: {
      dryRun: boolean;
      progress?: (fraction: number) => void;
      mappings?: ImportContext['mappings'];
    },
  ): Promise<ImportReport> {
    const changes: MigrationChange[] = [];
    const problems: OperationProblem[] = [];
    const items: MigrationItem[] = [];
    const progress = options.progress ?? (() => undefined);
    const document = parseDocument(text);
    progress(0.2);
    const types = Object.keys(document.data);
    for (const [i, type] of types.entries()) {
      const handler = this.handlers.get(type);
      if (!handler) {
        problems.push({
          message: `The export holds ${type} data, which no handler on this instance imports`,
          severity: 'WARNING',
        });
        continue;
      }
      const share = 0.75 / types.length;
      const start = 0.2 + i * share;
      const report = await handler.importData(document.data[type], {
        dryRun: options.dryRun,
        progress: (fraction) => progress(start + share * Math.min(1, fraction)),
        mappings:
          options.mappings ??
          (async () => {
            throw new Error('No mapping service outside a CMJ operation');
          }),
      });
      changes.push(...report.changes);
      problems.push(...report.problems);
      items.push(...(report.items ?? report.changes.map(itemOf)));
    }
    return { changes, problems, items };
  }

  async importConfiguration(
    body: unknown,
    caller: SpiCaller,
  ): Promise<{ operationId: string; status: 'running' }> {
    const call = await validated(SpiImportDto, body);
    const dryRun = call.dryRun === true;
    await this.store.begin(call.operationId, 'import', call.operationToken, dryRun);
    this.enter(call.operationId);
    const reporter = this.reporter(call.operationId);
    try {
      this.downloads.check(call.downloadLink);
    } catch (err) {
      const message = (err as DownloadError).message;
      this.finish(
        call.operationId,
        'import',
        reporter,
        caller,
        dryRun,
        [],
        [{ message, severity: 'ERROR' }],
      );
      throw Problems.badRequest(message, 'download_not_allowed');
    }
    reporter.report(0);
    this.track(this.runImport(call, dryRun, reporter, caller));
    return { operationId: call.operationId, status: 'running' };
  }

  private async runImport(
    call: SpiImportDto,
    dryRun: boolean,
    reporter: ProgressReporter,
    caller: SpiCaller,
  ): Promise<void> {
    const changes: MigrationChange[] = [];
    const problems: OperationProblem[] = [];
    const items: MigrationItem[] = [];
    try {
      const text = await this.downloads.download(call.downloadLink);
      const report = await this.importDocument(text, {
        dryRun,
        progress: (fraction) => reporter.report(fraction),
        mappings: (objectType, ids) => this.operations.mappings(call.operationId, objectType, ids),
      });
      changes.push(...report.changes);
      problems.push(...report.problems);
      items.push(...(report.items ?? []));
    } catch (err) {
      problems.push({
        message:
          err instanceof DownloadError || err instanceof DocumentError
            ? err.message
            : 'The import failed on the target instance',
        severity: 'ERROR',
      });
      if (!(err instanceof DownloadError || err instanceof DocumentError))
        this.logger.error(`Import ${call.operationId} failed: ${(err as Error).message}`);
    }
    this.finish(call.operationId, 'import', reporter, caller, dryRun, changes, problems, items);
  }

  private reporter(operationId: string): ProgressReporter {
    return new ProgressReporter(
      (fraction) => this.operations.progress(operationId, fraction),
      this.logger,
    );
  }

  /** Reports 1 and the result (after every progress report), ends the operation, audits it. */
  private finish(
    operationId: string,
    kind: 'export' | 'import',
    reporter: ProgressReporter,
    caller: SpiCaller,
    dryRun: boolean,
    changes: MigrationChange[],
    problems: OperationProblem[],
    items: MigrationItem[] = [],
  ): void {
    const status = outcomeOf(problems, items);
    const failed = status === 'failed';
    if (!failed) reporter.report(1);
    const result: OperationResult = {
      resultHtml: resultHtml(kind, dryRun, status, changes, problems, items),
      problems,
      ...(kind === 'import' ? { status, items } : {}),
    };
    const summary = { dryRun, changes, problems, ...(kind === 'import' ? { items } : {}) };
    this.track(
      (async () => {
        await reporter.settled();
        let delivered = true;
        try {
          await this.operations.result(operationId, result);
        } catch (err) {
          delivered = false;
          this.logger.warn(
            `The result of ${operationId} was not delivered: ${(err as Error).message}`,
          );
        }
        if (this.leave(operationId))
          await this.store.end(operationId, status, {
            ...summary,
            resultDelivered: delivered,
          });
        this.audit.record({
          event: `spi.${kind}.${status}`,
          outcome: status === 'succeeded' ? 'success' : 'failure',
          actor: caller.principal.username,
          authMethod: caller.principal.authMethod,
          credentialId: caller.principal.credentialId,
          ip: caller.ip,
          requestId: caller.requestId,
          details: {
            operationId,
            dryRun,
            changes: changes.length,
            failedItems: items.filter((i) => i.outcome === 'failed').length,
            problems: problems.map((p) => `${p.severity}: ${p.message}`).slice(0, 20),
            resultDelivered: delivered,
          },
        });
      })(),
    );
  }

  private enter(operationId: string): void {
    this.active.set(operationId, (this.active.get(operationId) ?? 0) + 1);
  }

  /** True when this was the operation's last call still working here. */
  private leave(operationId: string): boolean {
    const left = (this.active.get(operationId) ?? 1) - 1;
    if (left > 0) {
      this.active.set(operationId, left);
      return false;
    }
    this.active.delete(operationId);
    return true;
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((err: Error) =>
      this.logger.error(`Migration work failed: ${err.message}`),
    );
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
  }
}

async function validated<T extends object>(type: new () => T, body: unknown): Promise<T> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw Problems.badRequest('The SPI call must be a JSON object', 'validation_failed');
  const instance = plainToInstance(type, body);
  // CMJ sends metadata Warden does not use: ignored, not refused.
  const errors = flattenValidationErrors(await validate(instance, { whitelist: true }));
  if (errors.length > 0)
    throw Problems.badRequest('The SPI call is not valid', 'validation_failed', { errors });
  return instance;
}
