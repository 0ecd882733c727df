import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsDefined, IsInt, Max, Min } from 'class-validator';
import { IsCron } from './settings-checks';

export class AuditDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
  @ApiProperty({ example: 90 }) @IsDefined() @IsInt() @Min(1) @Max(3650) retentionDays!: number;
  @ApiProperty({ example: 1_000_000 })
  @IsDefined()
  @IsInt()
  @Min(1000)
  @Max(1_000_000_000)
  maxEntries!: number;
  @ApiProperty({ example: '0 * * * *' }) @IsDefined() @IsCron() purgeCron!: string;
}
