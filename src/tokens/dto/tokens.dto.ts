import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
} from 'class-validator';
import { TOKEN_SCOPES, TokenScope } from '../api-token.entity';

export class CreateTokenDto {
  @ApiProperty({ example: 'nightly export script' })
  @IsString()
  @Length(1, 255)
  name!: string;

  @ApiPropertyOptional({
    example: 90,
    description: 'Defaults to, and may not exceed, apiTokens.maxLifetimeDays',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  expiresInDays?: number;

  @ApiPropertyOptional({
    example: ['read'],
    enum: TOKEN_SCOPES,
    isArray: true,
    description:
      'read = GET/HEAD/OPTIONS only; write = every method; admin = administration routes. Default: read, write',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(3)
  @IsIn(TOKEN_SCOPES, { each: true })
  scopes?: TokenScope[];
}

export class TokenView {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'nightly export script' }) name!: string;
  @ApiProperty({
    example: 'wdn_4fT9aQ',
    description: 'The first characters of the token, to tell tokens apart',
  })
  prefix!: string;
  @ApiProperty({ example: ['read'], enum: TOKEN_SCOPES, isArray: true }) scopes!: TokenScope[];
  @ApiProperty() createdAt!: string;
  @ApiProperty() expiresAt!: string;
  @ApiProperty({ nullable: true, type: String }) lastUsedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastUsedIp!: string | null;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiProperty({ enum: ['active', 'expired', 'revoked'] }) status!:
    'active' | 'expired' | 'revoked';
}

export class CreatedTokenView extends TokenView {
  @ApiProperty({
    example: 'wdn_4fT9aQxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    description: 'Shown once, never again',
  })
  token!: string;
}
