import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length, Matches } from 'class-validator';

const PRINTABLE = /^[\x21-\x7e]+$/;

/** What CMJ sends with an SPI call (it may send more; the rest is ignored). */
export class SpiCallDto {
  @ApiProperty({ description: 'The CMJ operation this call belongs to', example: 'op-7f3c2a' })
  @IsString()
  @Length(1, 255)
  @Matches(PRINTABLE, { message: 'operationId must be printable ASCII without spaces' })
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
  @ApiProperty() operationId!: string;
  @ApiProperty({ example: 'running' }) status!: string;
}

export class OperationView {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['export', 'import'] }) kind!: string;
  @ApiProperty({ enum: ['running', 'succeeded', 'failed'] }) status!: string;
  @ApiProperty() dryRun!: boolean;
  @ApiProperty({ description: 'Whether the operation still holds its token' }) holdsToken!: boolean;
  @ApiProperty({ nullable: true, description: 'Changes and problems' }) summary!: unknown;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) finishedAt!: string | null;
}
