import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { AdminOnly } from '../../common/decorators/auth-policy.decorator';
import { JwtError, MAX_TOKEN_LENGTH } from '../../common/jwt/jws';
import { DomainError } from '../../common/problem/domain-error';
import { SettingsService } from '../../restrictions/settings.service';
import { CurrentPrincipal } from '../../common/decorators/auth-policy.decorator';
import { Principal } from '../../common/principal';
import { ExternalJwtService, FORGE_ISSUER, FORGE_JWKS_URL } from './external-jwt.service';

export class TestTokenDto {
  @ApiProperty({ description: 'A token issued by the identity provider' })
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

export class TokenTestView {
  @ApiProperty() valid!: boolean;
  @ApiProperty({ required: false, example: 'wrong_issuer' }) reason?: string;
  @ApiProperty({ required: false }) detail?: string;
  @ApiProperty({ required: false, example: 'alice' }) username?: string;
  @ApiProperty({ required: false, type: [String] }) groups?: string[];
  @ApiProperty({ required: false }) subject?: string | null;
  @ApiProperty({ required: false }) issuer?: string | null;
  @ApiProperty({ required: false, description: 'A local user of that name will be used' })
  localUser?: boolean;
}

@ApiTags('external identity provider')
@AdminOnly()
@Controller('admin/external-jwt')
export class ExternalJwtController {
  constructor(
    private readonly external: ExternalJwtService,
    private readonly settings: SettingsService,
  ) {}

  @Post('presets/forge-remote')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Forge Remote: accept a Forge app's invocation tokens (Atlassian's JWK set and issuer, the app id as audience)",
  })
  @ApiOkResponse({ description: 'The settings document as saved (secrets masked)' })
  async forgeRemote(
    @Body() body: ForgeRemotePresetDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<unknown> {
    const saved = await this.settings.patch(
      {
        externalJwt: {
          enabled: true,
          mode: 'jwks',
          jwksUrl: FORGE_JWKS_URL,
          issuer: FORGE_ISSUER,
          audience: body.appId,
          algorithms: ['RS256'],
          usernameClaim: body.caller === 'account' ? 'principal' : 'app.installationId',
          usernameRegex: null,
          groupsClaim: null,
          mapToLocalUser: false,
        },
      },
      { ifMatch: '*', force: false, actor: { username: principal.username } },
    );
    return this.settings.masked(saved);
  }

  // Never echoes the token: only what Warden made of it.
  @Post('test')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Check a token against the externalJwt settings: valid or why not, and the user it maps to',
  })
  @ApiOkResponse({ type: TokenTestView })
  async test(@Body() body: TestTokenDto): Promise<TokenTestView> {
    try {
      const identity = await this.external.verify(body.token);
      return {
        valid: true,
        username: identity.username,
        groups: identity.groups,
        subject: identity.subject,
        issuer: identity.issuer,
        localUser: identity.localUserId !== undefined,
      };
    } catch (err) {
      if (err instanceof JwtError) return { valid: false, reason: err.reason, detail: err.message };
      if (err instanceof DomainError) return { valid: false, reason: err.code, detail: err.detail };
      throw err;
    }
  }
}
