import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import {
  AdminOnly,
  Authenticated,
  CurrentPrincipal,
  Public,
} from '../common/decorators/auth-policy.decorator';
import { Principal } from '../common/principal';
import { Problems } from '../common/problem/domain-error';
import { RequestMeta } from '../common/request-meta';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import {
  ExportDocumentView,
  OperationsQuery,
  OperationView,
  SpiAcceptedView,
  SpiCallDto,
  SpiDescriptorView,
  SpiImportDto,
} from './dto/spi.dto';
import { ExportDocument } from './export-document';
import { MigrationService, SpiCaller } from './migration.service';
import { OperationEntity } from './operations/operation.entity';
import { OperationStore } from './operations/operation-store.service';

export const SPI_EXPORT_PATH = '/cmjspi/configuration/export';
export const SPI_IMPORT_PATH = '/cmjspi/configuration/import';

function caller(principal: Principal, meta: RequestMeta): SpiCaller {
  return { principal, ip: meta.ip, requestId: meta.requestId };
}

/** The CMJ Cloud SPI: its descriptor and the routes CMJ calls (CMJ's JWT, and only that). */
@ApiTags('cmj migration spi')
@Controller()
export class MigrationSpiController {
  constructor(
    private readonly migration: MigrationService,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  @Get('cmj-spi.json')
  @Public()
  @ApiOperation({
    summary: 'The SPI descriptor CMJ Cloud reads: endpoints, their types and versions',
  })
  @ApiOkResponse({ type: SpiDescriptorView })
  descriptor(): SpiDescriptorView {
    return {
      baseUrl: this.config.baseUrl,
      appKey: this.config.connect.appKey,
      authentication: 'JWT',
      endpoints: [
        { type: 'APP_CONFIGURATION_EXPORT', path: SPI_EXPORT_PATH, apiVersion: 1 },
        { type: 'APP_CONFIGURATION_IMPORT', path: SPI_IMPORT_PATH, apiVersion: 1 },
      ],
    };
  }

  @Post('cmjspi/configuration/export')
  @HttpCode(200)
  @Authenticated(['cmj-spi'])
  @ApiOperation({
    summary:
      'Export this instance\u2019s configuration (settings with secrets masked, groups, tenant metadata)',
  })
  @ApiBody({ type: SpiCallDto })
  @ApiOkResponse({
    type: ExportDocumentView,
    description: 'The export document (JSON), one entry per data type',
  })
  @ApiBadRequestResponse({ description: 'The call is not valid' })
  exportConfiguration(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<ExportDocument> {
    return this.migration.exportConfiguration(body, caller(principal, meta));
  }

  @Post('cmjspi/configuration/import')
  @HttpCode(202)
  @Authenticated(['cmj-spi'])
  @ApiOperation({
    summary:
      'Import an export from CMJ\u2019s signed download link (dryRun: report only); progress and result go to CMJ\u2019s Operations API',
  })
  @ApiBody({ type: SpiImportDto })
  @ApiAcceptedResponse({ type: SpiAcceptedView })
  @ApiBadRequestResponse({ description: 'The call is not valid, or its link is not allowed' })
  importConfiguration(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<SpiAcceptedView> {
    return this.migration.importConfiguration(body, caller(principal, meta));
  }
}

@ApiTags('admin: cmj migrations')
@AdminOnly()
@Controller('admin/migration/operations')
export class MigrationOperationsController {
  constructor(private readonly store: OperationStore) {}

  @Get()
  @ApiOperation({ summary: 'Recent CMJ operations, newest first (never their tokens)' })
  @ApiOkResponse({ type: OperationView, isArray: true })
  async list(@Query() query: OperationsQuery): Promise<OperationView[]> {
    return (await this.store.list(query.limit ?? 50)).map(operationView);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One CMJ operation: its state and, once ended, its changes and problems',
  })
  @ApiOkResponse({ type: OperationView })
  @ApiNotFoundResponse({ description: 'No such operation' })
  async one(@Param('id') id: string): Promise<OperationView> {
    const operation = await this.store.find(id);
    if (!operation) throw Problems.notFound('No such operation', 'operation_not_found');
    return operationView(operation);
  }
}

function operationView(o: OperationEntity): OperationView {
  return {
    id: o.id,
    kind: o.kind,
    status: o.status,
    dryRun: o.dryRun,
    holdsToken: o.operationToken !== null,
    summary: o.summary === null ? null : JSON.parse(o.summary),
    createdAt: o.createdAt.toISOString(),
    finishedAt: o.finishedAt?.toISOString() ?? null,
  };
}
