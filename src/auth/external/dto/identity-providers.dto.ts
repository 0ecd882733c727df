import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { MAX_TOKEN_LENGTH } from '../../../common/jwt/jws';

export class TestTokenDto {
  @ApiProperty({ description: 'A token issued by an identity provider' })
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_TOKEN_LENGTH)
  token!: string;
}

export class ForgeRemotePresetDto {
  @ApiProperty({
    description: "The Forge app's id (the tokens' audience)",
    example: 'ari:cloud:ecosystem::app/8f4c2a63-5cf3-4d1b-9d57-52b2e1b0b8d1',
  })
  @Matches(/^ari:cloud:ecosystem::app\/[0-9a-f-]{36}$/, {
    message: 'appId must be ari:cloud:ecosystem::app/<uuid>',
  })
  appId!: string;

  @ApiProperty({
    required: false,
    enum: ['installation', 'account'],
    description:
      'Who the caller is: the installation (every invocation, events and scheduled triggers included) or the Atlassian account that triggered it (user invocations only)',
  })
  @IsOptional()
  @IsIn(['installation', 'account'])
  caller?: 'installation' | 'account';
}

export class NamedForgeRemotePresetDto extends ForgeRemotePresetDto {
  @ApiProperty({
    required: false,
    default: 'forge-remote',
    description: 'The provider added, or replaced if one of that name exists',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, {
    message: 'name must be 1 to 64 letters, digits, dots, underscores or hyphens',
  })
  name?: string;
}

export class TokenTestView {
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'corporate',
    description: 'The provider that judged the token; null when none takes it',
  })
  provider!: string | null;
  @ApiProperty() valid!: boolean;
  @ApiProperty({ required: false, example: 'wrong_audience' }) reason?: string;
  @ApiProperty({ required: false }) detail?: string;
  @ApiProperty({ required: false, example: 'alice' }) username?: string;
  @ApiProperty({ required: false, type: [String] }) groups?: string[];
  @ApiProperty({ required: false, nullable: true, type: String }) subject?: string | null;
  @ApiProperty({ required: false, nullable: true, type: String }) issuer?: string | null;
  @ApiProperty({ required: false, description: 'A local user of that name will be used' })
  localUser?: boolean;
}
