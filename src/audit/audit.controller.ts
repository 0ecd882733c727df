import { Controller, Get, HttpCode, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { AdminOnly } from '../common/decorators/auth-policy.decorator';
import { AuditQueryService } from './audit-query.service';
import { AuditExportDto, AuditPageView, AuditQueryDto, RetentionView } from './dto/audit.dto';
import { AuditRetentionJob, PURGE_TIME_ZONE } from './retention/audit-retention.job';
import { AuditRetentionService, PurgeRun } from './retention/audit-retention.service';
import { AuditRepository } from './audit.repository';
import { SettingsService } from '../settings/settings.service';

const CONTENT_TYPES = { ndjson: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' };

@ApiTags('audit')
@AdminOnly()
@Controller('admin/audit')
export class AuditController {
  constructor(
    private readonly query: AuditQueryService,
    private readonly retention: AuditRetentionService,
    private readonly job: AuditRetentionJob,
    private readonly repository: AuditRepository,
    private readonly settings: SettingsService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Audit events, newest first, filtered; follow `nextCursor` for older pages',
  })
  @ApiOkResponse({ type: AuditPageView })
  list(@Query() query: AuditQueryDto): Promise<AuditPageView> {
    return this.query.page(query, query.limit, query.cursor);
  }

  @Get('export')
  @ApiOperation({
    summary: 'Every matching event, streamed as NDJSON (one JSON object per line) or CSV',
  })
  @ApiProduces(CONTENT_TYPES.ndjson, CONTENT_TYPES.csv)
  @ApiOkResponse({ description: 'The events, newest first' })
  export(@Query() query: AuditExportDto, @Res() reply: FastifyReply): void {
    const format = query.format ?? 'ndjson';
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    void reply
      .header('Content-Type', CONTENT_TYPES[format])
      .header('Content-Disposition', `attachment; filename="audit-${stamp}.${format}"`)
      .header('Cache-Control', 'no-store')
      // One page per chunk, the next read only when the socket has taken the last one.
      .send(Readable.from(this.query.export(query, format), { highWaterMark: 1 }));
  }

  @Get('retention')
  @ApiOperation({ summary: 'The retention schedule and its last run (on any instance)' })
  @ApiOkResponse({ type: RetentionView })
  async retentionState(): Promise<RetentionView> {
    const { retentionDays, maxEntries, purgeCron } = this.settings.get().audit;
    const last = await this.repository.latest('audit.purged');
    const next = this.job.nextRunAt();
    return {
      // The expression in force: the default one while the stored one cannot be scheduled.
      cron: this.job.expression ?? purgeCron,
      timeZone: PURGE_TIME_ZONE,
      nextRunAt: next ? next.toISOString() : null,
      retentionDays,
      maxEntries,
      running: this.retention.running,
      lastRun: last?.details ? (JSON.parse(last.details) as Record<string, unknown>) : null,
    };
  }

  @Post('retention/run')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run the retention rule now; `ran: false` when a run is already in progress somewhere',
  })
  @ApiOkResponse({
    schema: { example: { ran: true, run: { deletedByAge: 1200, deletedByCount: 0 } } },
  })
  @ApiAcceptedResponse()
  async runRetention(): Promise<{ ran: boolean; run: PurgeRun | null }> {
    const run = await this.retention.purge('manual');
    return { ran: run !== null, run };
  }
}
