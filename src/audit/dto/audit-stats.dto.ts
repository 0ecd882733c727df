import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';
import { AUDIT_LIMITS } from '../audit-entry.entity';
import type { StatsBucketSize } from '../audit-stats.service';

export class AuditRangeDto {
  @ApiPropertyOptional({
    description: 'From this instant (inclusive), ISO 8601; default: one span before `to`',
    example: '2026-11-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'Until this instant (exclusive), ISO 8601; default: now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class AuditStatsQueryDto extends AuditRangeDto {
  @ApiProperty({
    enum: ['minute', 'hour', 'day'],
    description: 'Bucket size; the default range is the last hour, day or week respectively',
  })
  @IsIn(['minute', 'hour', 'day'])
  bucket!: StatsBucketSize;

  @ApiPropertyOptional({
    description: 'Only this actor (administrators; everyone else sees only their own events)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_LIMITS.actor)
  actor?: string;
}

class StatsCountsView {
  @ApiProperty() allowed!: number;
  @ApiProperty() denied!: number;
  @ApiProperty({ description: 'Denied by a rate limit' }) rateLimited!: number;
  @ApiProperty({ description: 'Failed security events (sign-ins, refreshes)' }) failed!: number;
  @ApiProperty({ description: 'Other events (successful sign-ins, changes)' }) other!: number;
}

class StatsBucketView extends StatsCountsView {
  @ApiProperty({ example: '2026-11-22T10:00:00.000Z' }) at!: string;
}

class ReasonCountView {
  @ApiProperty({ example: 'ip_not_allowed' }) reason!: string;
  @ApiProperty() count!: number;
}

export class AuditStatsView {
  @ApiProperty() from!: string;
  @ApiProperty() to!: string;
  @ApiProperty({ enum: ['minute', 'hour', 'day'] }) bucket!: string;
  @ApiProperty({ nullable: true, type: String }) actor!: string | null;
  @ApiProperty({ type: [StatsBucketView] }) buckets!: StatsBucketView[];
  @ApiProperty({ type: StatsCountsView }) totals!: StatsCountsView;
  @ApiProperty({ type: [ReasonCountView] }) topReasons!: ReasonCountView[];
}

export class CallerCountView {
  @ApiProperty({ example: 'alice' }) actor!: string;
  @ApiProperty() count!: number;
}
