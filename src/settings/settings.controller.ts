import { Body, Controller, Get, Headers, Patch, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiPreconditionFailedResponse,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminOnly, CurrentPrincipal } from '../common/decorators/auth-policy.decorator';
import { Principal } from '../common/principal';
import { requestMeta } from '../common/request-meta';
import { SettingsDto } from './dto/settings.dto';
import { lockoutReasons } from './lockout';
import { Settings } from './settings.defaults';
import { SettingsService, SettingsWrite } from './settings.service';

/**
 * Warnings about the document in force ride on its responses as `Warning: 299 - "<field>: …"`
 * headers (RFC 7234 section 5.5, the form Kubernetes' API uses for the same purpose), one per
 * warning: the body stays the document, so what is read can be written back as it is.
 */
const WARNING_HEADER = {
  Warning: {
    description:
      'One per warning about the settings in force, as 299 - "<field>: <message>" (e.g. an introspection provider without opaqueTokens while native tokens are allowed)',
    schema: { type: 'string' },
  },
};

@ApiTags('admin: settings')
@AdminOnly()
@Controller('admin/settings')
export class SettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get()
  @ApiOperation({ summary: 'The settings document (secrets masked); its ETag is the version' })
  @ApiOkResponse({ type: SettingsDto, headers: WARNING_HEADER })
  read(@Res({ passthrough: true }) reply: FastifyReply): Settings {
    this.describe(reply);
    return this.settings.masked();
  }

  @Put()
  @ApiOperation({ summary: 'Replace the whole document; If-Match must carry the ETag you read' })
  @ApiHeader({ name: 'If-Match', required: true, example: '"3"' })
  @ApiQuery({
    name: 'force',
    required: false,
    description: 'Apply a change that would lock you out',
  })
  @ApiBody({ type: SettingsDto })
  @ApiOkResponse({ type: SettingsDto, headers: WARNING_HEADER })
  @ApiPreconditionFailedResponse({ description: 'The settings changed since you read them' })
  @ApiConflictResponse({ description: 'The change would lock you out (repeat with force=true)' })
  async replace(
    @Body() body: unknown,
    @Headers('if-match') ifMatch: string | undefined,
    @Query('force') force: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Settings> {
    return this.save('replace', body, this.write(ifMatch, force, principal, request), reply);
  }

  @Patch()
  @ApiOperation({
    summary: 'Change part of the document (JSON merge patch, RFC 7396); If-Match required',
  })
  @ApiHeader({ name: 'If-Match', required: true, example: '"3"' })
  @ApiQuery({ name: 'force', required: false })
  @ApiBody({ schema: { type: 'object', example: { basicAuth: { enabled: false } } } })
  @ApiOkResponse({ type: SettingsDto, headers: WARNING_HEADER })
  @ApiPreconditionFailedResponse()
  @ApiConflictResponse()
  async patch(
    @Body() body: unknown,
    @Headers('if-match') ifMatch: string | undefined,
    @Query('force') force: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Settings> {
    return this.save('patch', body, this.write(ifMatch, force, principal, request), reply);
  }

  private async save(
    how: 'replace' | 'patch',
    body: unknown,
    write: SettingsWrite,
    reply: FastifyReply,
  ): Promise<Settings> {
    await this.settings[how](body, write);
    this.describe(reply);
    return this.settings.masked();
  }

  /** The version as the ETag, and the warnings about the document in force. */
  private describe(reply: FastifyReply): void {
    reply.header('ETag', this.settings.etag());
    const warnings = this.settings.warnings();
    if (warnings.length > 0)
      reply.header(
        'Warning',
        warnings.map((w) => `299 - "${`${w.field}: ${w.message}`.replace(/["\\]/g, '')}"`),
      );
  }

  private write(
    ifMatch: string | undefined,
    force: string | undefined,
    principal: Principal,
    request: FastifyRequest,
  ): SettingsWrite {
    // The address the access guard resolved behind trusted proxies before admitting the call.
    const { ip, requestId } = requestMeta(request);
    return {
      ifMatch,
      force: force === 'true' || force === '1',
      actor: { username: principal.username, requestId, ip },
      lockout: (next) =>
        lockoutReasons(next, {
          socketAddress: request.ip,
          headers: request.headers,
          authMethod: principal.authMethod,
        }),
    };
  }
}
