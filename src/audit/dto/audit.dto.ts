import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { AUDIT_LIMITS } from '../audit-entry.entity';
import type { AuditOutcome } from '../audit.port';

const OUTCOMES: AuditOutcome[] = ['success', 'failure', 'allowed', 'denied'];
export const MAX_PAGE_ROWS = 1000;

/** The filters shared by the listing and the export. */
export class AuditFilterDto {
  @ApiPropertyOptional({
    description: 'From this instant (inclusive), ISO 8601',
    example: '2026-11-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'Until this instant (exclusive), ISO 8601' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ description: 'Username (or tenant) the event is about', example: 'alice' })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_LIMITS.actor)
  actor?: string;

  @ApiPropertyOptional({
    description: 'An event name, or a family ending in `.*`',
    example: 'auth.*',
  })
  @IsOptional()
  @Matches(/^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$/, {
    message: 'event must be a name like auth.login.failed or a family like auth.*',
  })
  @MaxLength(AUDIT_LIMITS.event)
  event?: string;

  @ApiPropertyOptional({ enum: OUTCOMES })
  @IsOptional()
  @IsIn(OUTCOMES)
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ description: "The client's address", example: '203.0.113.7' })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_LIMITS.ip)
  ip?: string;

  @ApiPropertyOptional({ description: 'Session id, API token id… of the credential used' })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_LIMITS.credentialId)
  credential?: string;
}

export class AuditQueryDto extends AuditFilterDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_ROWS, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_ROWS)
  limit?: number;

  @ApiPropertyOptional({ description: '`nextCursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class AuditExportDto extends AuditFilterDto {
  @ApiPropertyOptional({ enum: ['ndjson', 'csv'], default: 'ndjson' })
  @IsOptional()
  @IsIn(['ndjson', 'csv'])
  format?: 'ndjson' | 'csv';
}

export class AuditEntryView {
  @ApiProperty({ example: '1042' }) id!: string;
  @ApiProperty({ example: '2026-11-22T10:15:00.000Z' }) at!: string;
  @ApiProperty({ example: 'access.denied' }) event!: string;
  @ApiProperty({ enum: OUTCOMES }) outcome!: string;
  @ApiProperty({ nullable: true, type: String, example: 'alice' }) actor!: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'access' }) authMethod!: string | null;
  @ApiProperty({ nullable: true, type: String }) credentialId!: string | null;
  @ApiProperty({ nullable: true, type: String, example: '203.0.113.7' }) ip!: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'GET' }) method!: string | null;
  @ApiProperty({ nullable: true, type: String, example: '/rest/api/2/issue/PRJ-1' })
  path!: string | null;
  @ApiProperty({ nullable: true, type: Number, example: 403 }) status!: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'group_not_allowed' })
  reason!: string | null;
  @ApiProperty({ nullable: true, type: String }) userAgent!: string | null;
  @ApiProperty({ nullable: true, type: String }) requestId!: string | null;
  @ApiProperty({ nullable: true, type: Object }) details!: Record<string, unknown> | null;
}

export class AuditPageView {
  @ApiProperty({ type: [AuditEntryView] }) items!: AuditEntryView[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Pass as `cursor` for the next (older) page; null on the last page',
  })
  nextCursor!: string | null;
}

export class RetentionView {
  @ApiProperty({ example: '0 * * * *' }) cron!: string;
  @ApiProperty({ example: 'UTC' }) timeZone!: string;
  @ApiProperty({ nullable: true, type: String }) nextRunAt!: string | null;
  @ApiProperty({ example: 90 }) retentionDays!: number;
  @ApiProperty({ example: 1_000_000 }) maxEntries!: number;
  @ApiProperty({ description: 'A run is in progress on this instance' }) running!: boolean;
  @ApiProperty({
    nullable: true,
    type: Object,
    description: 'The last run on any instance: when, how long, how many rows by age and by count',
  })
  lastRun!: Record<string, unknown> | null;
}
