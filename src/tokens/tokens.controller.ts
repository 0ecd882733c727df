import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
} from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import {
  AdminOnly,
  Authenticated,
  CurrentPrincipal,
} from '../common/decorators/auth-policy.decorator';
import { Principal } from '../common/principal';
import { RequestActor, RequestMeta } from '../common/request-meta';
import { CreatedTokenView, CreateTokenDto, TokenView } from './dto/tokens.dto';
import { TokensService } from './tokens.service';

@ApiTags('personal API tokens')
@Controller('tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  // A token cannot mint more tokens: creating one needs the user in person.
  @Post()
  @Authenticated(['access', 'basic'])
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Create a personal API token; the secret is in this response only' })
  @ApiCreatedResponse({ type: CreatedTokenView })
  @ApiForbiddenResponse({ description: 'Token creation is not allowed for this user' })
  @ApiConflictResponse({ description: 'apiTokens.maxPerUser reached' })
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateTokenDto,
    @RequestMeta('actor') actor: RequestActor,
  ): Promise<CreatedTokenView> {
    return this.tokens.create(principal, dto, actor);
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Your tokens (never their secrets)' })
  @ApiOkResponse({ type: [TokenView] })
  list(@CurrentPrincipal() principal: Principal): Promise<TokenView[]> {
    return this.tokens.list(principal.id);
  }

  @Delete(':id')
  @Authenticated()
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke one of your tokens' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @RequestMeta('actor') actor: RequestActor,
  ): Promise<void> {
    await this.tokens.revoke(principal.id, id, principal.username, actor);
  }
}

@ApiTags('admin: API tokens')
@AdminOnly()
@Controller('admin/users/:username/tokens')
export class AdminTokensController {
  constructor(private readonly tokens: TokensService) {}

  @Get()
  @ApiOperation({ summary: "A user's tokens" })
  @ApiOkResponse({ type: [TokenView] })
  list(@Param('username') username: string): Promise<TokenView[]> {
    return this.tokens.listForUsername(username);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: "Revoke one of a user's tokens" })
  @ApiNoContentResponse()
  async revoke(
    @Param('username') username: string,
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() principal: Principal,
    @RequestMeta('actor') actor: RequestActor,
  ): Promise<void> {
    await this.tokens.revokeForUsername(username, id, principal.username, actor);
  }

  @Delete()
  @ApiOperation({ summary: "Revoke all of a user's tokens" })
  @ApiOkResponse({ schema: { example: { revoked: 3 } } })
  async revokeAll(
    @Param('username') username: string,
    @CurrentPrincipal() principal: Principal,
    @RequestMeta('actor') actor: RequestActor,
  ): Promise<{ revoked: number }> {
    return {
      revoked: await this.tokens.revokeAllForUsername(username, principal.username, actor),
    };
  }
}
