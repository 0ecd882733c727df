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
  Req,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import {
  Authenticated,
  CurrentPrincipal,
  Public,
} from '../common/decorators/auth-policy.decorator';
import { Problems } from '../common/problem/domain-error';
import { Principal } from '../common/principal';
import { RequestMeta } from '../common/request-meta';
import { AuthService, TokenPair } from './auth.service';
import { DirectoryService } from './directory/directory.service';
import { LoginDto, SessionViewDto, TokenPairView, WhoAmIView } from './dto/auth.dto';
import { SessionsService } from './sessions/sessions.service';
import { WardenClaims } from './warden-tokens.service';

type ReauthRequest = FastifyRequest & { refreshClaims: WardenClaims };

@ApiTags('token pair')
@Controller('system')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly directory: DirectoryService,
    private readonly sessions: SessionsService,
  ) {}

  @Get('auth')
  @Header('Cache-Control', 'no-store')
  @Authenticated(['basic', 'session'], { failureEvent: 'auth.login.failed', login: true })
  @ApiOperation({
    summary: 'Get a token pair with Basic credentials or the upstream session cookie',
  })
  @ApiOkResponse({ type: TokenPairView })
  login(
    @CurrentPrincipal() principal: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<TokenPair> {
    return this.auth.login(principal, principal.authMethod, meta);
  }

  @Post('auth')
  @Header('Cache-Control', 'no-store')
  @Public({ login: true })
  @HttpCode(200)
  @ApiOperation({ summary: 'Get a token pair with a JSON username and password' })
  @ApiOkResponse({ type: TokenPairView })
  @ApiBadRequestResponse({ description: 'Body is not {username, password}' })
  async loginWithBody(
    @Body() body: LoginDto,
    @RequestMeta() meta: RequestMeta,
  ): Promise<TokenPair> {
    const user = await this.directory.verifyPassword(body.username, body.password);
    if (!user) {
      this.auth.recordLoginFailure(body.username, 'basic', meta);
      throw Problems.unauthorized(
        'Invalid username or password',
        [{ scheme: 'Basic' }],
        'invalid_credentials',
      );
    }
    return this.auth.login(user, 'basic', meta);
  }

  @Get('reauth')
  @Header('Cache-Control', 'no-store')
  @Authenticated(['refresh'])
  @ApiOperation({ summary: 'Renew the pair with the refresh token (Bearer, or the bare token)' })
  @ApiOkResponse({ type: TokenPairView, description: '`refresh` is present when rotation is on' })
  reauth(@Req() request: ReauthRequest, @RequestMeta() meta: RequestMeta): Promise<TokenPair> {
    return this.auth.reauth(request.refreshClaims, meta);
  }

  @Post('logout')
  @Authenticated(['access'])
  @HttpCode(204)
  @ApiOperation({ summary: "End the calling token's session (its refresh and access tokens)" })
  @ApiNoContentResponse()
  @ApiForbiddenResponse({
    description: "An identity provider's token: there is no Warden session to end",
  })
  async logout(
    @CurrentPrincipal() principal: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<void> {
    // An identity provider's token has no Warden session: a 204 would claim an end that is not.
    if (principal.authMethod === 'external')
      throw Problems.forbidden(
        'external_token_not_allowed',
        "This token is the identity provider's: there is no Warden session to end; sign out there",
      );
    await this.auth.logout(principal.username, principal.credentialId, meta);
  }

  @Get('sessions')
  @Authenticated(['access', 'basic'])
  @ApiOperation({ summary: "List the caller's live sessions" })
  @ApiOkResponse({ type: [SessionViewDto] })
  listSessions(@CurrentPrincipal() principal: Principal) {
    return this.sessions.list(
      principal.id,
      principal.authMethod === 'access' ? principal.credentialId : undefined,
    );
  }

  @Delete('sessions/:id')
  @Authenticated(['access', 'basic'])
  @HttpCode(204)
  @ApiOperation({ summary: 'End one of your sessions' })
  @ApiNoContentResponse()
  async deleteSession(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<void> {
    await this.sessions.revokeOwn(principal.id, id);
  }

  @Delete('sessions')
  @Authenticated(['access', 'basic'])
  @HttpCode(204)
  @ApiOperation({ summary: 'End all of your sessions, everywhere' })
  @ApiNoContentResponse()
  async deleteAllSessions(@CurrentPrincipal() principal: Principal): Promise<void> {
    await this.sessions.revokeAllForUser(principal.id, 'user_revoked_all');
  }

  @Get('whoami')
  @Authenticated(undefined, { api: true })
  @ApiOperation({ summary: 'Who the credentials belong to' })
  @ApiOkResponse({ type: WhoAmIView })
  @ApiTooManyRequestsResponse()
  whoami(@CurrentPrincipal() principal: Principal): WhoAmIView {
    return {
      id: principal.id,
      username: principal.username,
      groups: principal.groups,
      authMethod: principal.authMethod,
      ...(principal.invocation ? { invocation: principal.invocation } : {}),
    };
  }
}
