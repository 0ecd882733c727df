import { ApiProperty, ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length, Matches } from 'class-validator';
import { PageQuery } from '../../auth/directory/dto/page.query';

const PRINTABLE = /^[\x21-\x7e]+$/;
/** An operation id is a path segment towards the Operations API: `.` and `..` would move it. */
const OPERATION_ID = /^(?!\.{1,2}$)[\x21-\x7e]+$/;

/** What CMJ sends with an SPI call (it may send more; the rest is ignored). */
export class SpiCallDto {
  @ApiProperty({ description: 'The CMJ operation this call belongs to', example: 'op-7f3c2a' })
  @IsString()
  @Length(1, 255)
  @Matches(OPERATION_ID, {
    message: 'operationId must be printable ASCII without spaces, and not . or ..',
  })
  operationId!: string;

  @ApiProperty({
    description:
      'The token for CMJ\u2019s Operations API, valid for this operation only; kept sealed, never returned or logged',
  })
  @IsString()
  @Length(1, 16384)
  @Matches(PRINTABLE, { message: 'operationToken must be printable ASCII without spaces' })
  operationToken!: string;
}

export class SpiImportDto extends SpiCallDto {
  @ApiProperty({
    description:
      'Signed, expiring link to the export document (fetched as given, no Authorization)',
    example: 'https://download.cmj.example/exports/op-7f3c2a?expires=…&signature=…',
  })
  @IsString()
  @Length(1, 4096)
  downloadLink!: string;

  @ApiPropertyOptional({ description: 'Report what would change, change nothing', default: false })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class SpiAcceptedView {
  @ApiProperty({ example: 'op-7f3c2a' }) operationId!: string;
  @ApiProperty({ example: 'running' }) status!: string;
}

export class SpiEndpointView {
  @ApiProperty({
    enum: ['APP_CONFIGURATION_EXPORT', 'APP_CONFIGURATION_IMPORT'],
    example: 'APP_CONFIGURATION_EXPORT',
  })
  type!: string;
  @ApiProperty({ example: '/cmjspi/configuration/export' }) path!: string;
  @ApiProperty({ example: 1 }) apiVersion!: number;
}

/** The SPI descriptor at /cmj-spi.json. */
export class SpiDescriptorView {
  @ApiProperty({ description: 'WARDEN_BASE_URL', example: 'https://warden.example.com' })
  baseUrl!: string;
  @ApiProperty({ example: 'warden' }) appKey!: string;
  @ApiProperty({ enum: ['JWT'], example: 'JWT' }) authentication!: string;
  @ApiProperty({
    type: [SpiEndpointView],
    example: [
      { type: 'APP_CONFIGURATION_EXPORT', path: '/cmjspi/configuration/export', apiVersion: 1 },
      { type: 'APP_CONFIGURATION_IMPORT', path: '/cmjspi/configuration/import', apiVersion: 1 },
    ],
  })
  endpoints!: SpiEndpointView[];
}

/** The export document: what CMJ stores and later hands to an import on another instance. */
export class ExportDocumentView {
  @ApiProperty({ example: 'warden-cmj-export' }) format!: string;
  @ApiProperty({ example: 1 }) version!: number;
  @ApiProperty({ example: 'warden' }) appKey!: string;
  @ApiProperty({
    description: 'WARDEN_BASE_URL of the exporting instance',
    example: 'https://warden.example.com',
  })
  source!: string;
  @ApiProperty({ example: '2026-11-20T09:30:00.000Z' }) exportedAt!: string;
  @ApiProperty({
    type: Object,
    description:
      'One entry per data type; `warden.configuration` holds the settings (secrets masked), the group names and the Connect tenants\u2019 metadata',
    example: {
      'warden.configuration': {
        settings: { basicAuth: { enabled: true }, groups: { apiAccess: ['api-users'] } },
        groups: ['api-users', 'warden-admins'],
        tenants: [
          {
            clientKey: 'jira:a1b2c3d4-0000-4000-8000-000000000001',
            baseUrl: 'https://example.atlassian.net',
            displayUrl: null,
            productType: 'jira',
            description: null,
            enabled: true,
          },
        ],
      },
    },
  })
  data!: Record<string, unknown>;
}

export class OperationView {
  @ApiProperty({ example: 'op-7f3c2a' }) id!: string;
  @ApiProperty({ enum: ['export', 'import'], example: 'import' }) kind!: string;
  @ApiProperty({
    enum: ['running', 'succeeded', 'partial', 'failed'],
    example: 'partial',
    description: 'partial: an import that applied some items and failed others',
  })
  status!: string;
  @ApiProperty({ example: false }) dryRun!: boolean;
  @ApiProperty({ description: 'Whether the operation still holds its token', example: false })
  holdsToken!: boolean;
  @ApiProperty({
    type: Object,
    nullable: true,
    description:
      'Once the operation has ended: the changes made (or, in a dry run, that would be), the problems reported to CMJ, and whether CMJ took the result',
    example: {
      dryRun: false,
      changes: [
        { target: 'group', key: 'api-users', action: 'create' },
        { target: 'settings', key: 'basicAuth.enabled', action: 'update', from: true, to: false },
      ],
      problems: [
        {
          severity: 'ERROR',
          message:
            'Group "bad/group" was not created: A group name must be 1 to 255 characters, each a letter, a digit, a space or one of . _ @ + -',
        },
      ],
      resultDelivered: true,
    },
  })
  summary!: unknown;
  @ApiProperty({ example: '2026-11-20T09:30:00.000Z' }) createdAt!: string;
  @ApiProperty({ nullable: true, type: String, example: '2026-11-20T09:30:01.250Z' })
  finishedAt!: string | null;
}

/** `GET /admin/migration/operations`: how many of the newest operations, as every list takes it. */
export class OperationsQuery extends PickType(PageQuery, ['limit'] as const) {}
