import type { ForgeInvocation } from '../../common/principal';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { WITHOUT_CONTROL_CHARACTERS } from '../../common/text';

export class LoginDto {
  @ApiProperty({ example: 'alice' })
  @IsString()
  @Length(1, 255)
  @Matches(WITHOUT_CONTROL_CHARACTERS, { message: 'username must not contain control characters' })
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple' })
  @IsString()
  @Length(1, 1024)
  password!: string;
}

export class TokenPairView {
  @ApiProperty({
    description: 'Access token (JWT, typ at+jwt), 15 minutes by default',
    example: 'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIuLi4ifQ.c2ln',
  })
  authentication!: string;

  @ApiPropertyOptional({
    description:
      'Refresh token (JWT, typ refresh+jwt), 7 days by default; single use when rotation is on',
    example: 'eyJhbGciOiJSUzI1NiIsInR5cCI6InJlZnJlc2granF0In0.eyJzaWQiOiIuLi4ifQ.c2ln',
  })
  refresh?: string;
}

export class SessionViewDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'basic' }) authMethod!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty() lastUsedAt!: string;
  @ApiProperty() expiresAt!: string;
  @ApiProperty({ nullable: true, type: String, example: '203.0.113.7' }) ip!: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'curl/8.5.0' }) userAgent!: string | null;
  @ApiProperty({ description: 'The session the calling token belongs to' }) current!: boolean;
}

export class WhoAmIView {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'alice' }) username!: string;
  @ApiProperty({ type: [String], example: ['jira-users'] }) groups!: string[];
  @ApiProperty({ example: 'access' }) authMethod!: string;
  @ApiProperty({
    required: false,
    description: 'For a Forge invocation token: the app, installation, account and environment',
    example: {
      app: 'ari:cloud:ecosystem::app/8f4c…',
      installation: 'ari:cloud:ecosystem::installation/c365…',
      account: '5b10ac8d82e05b22cc7d4ef5',
      environment: 'PRODUCTION',
    },
  })
  invocation?: ForgeInvocation;
}
