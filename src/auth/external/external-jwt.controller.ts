import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { AdminOnly } from '../../common/decorators/auth-policy.decorator';
import { JwtError, MAX_TOKEN_LENGTH } from '../../common/jwt/jws';
import { DomainError } from '../../common/problem/domain-error';
import { ExternalJwtService } from './external-jwt.service';

export class TestTokenDto {
  @ApiProperty({ description: 'A token issued by the identity provider' })
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_TOKEN_LENGTH)
  token!: string;
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
  constructor(private readonly external: ExternalJwtService) {}

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
