import { Body, Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuditSink } from '../../audit/audit.port';
import { Clock } from '../../common/clock';
import { AdminOnly, CurrentPrincipal } from '../../common/decorators/auth-policy.decorator';
import { Principal } from '../../common/principal';
import { DomainError, Problems } from '../../common/problem/domain-error';
import { madeBy, RequestMeta } from '../../common/request-meta';
import { ConnectHostClient, HostCallError, HostResponse } from '../host-client.service';
import { tenantView } from '../connect-lifecycle.service';
import { HostCheckDto, HostCheckView, TenantPatchDto, TenantView } from '../dto/connect.dto';
import { TenantDirectory } from './tenant-directory.service';
import { TenantsRepository } from './tenants.repository';

@ApiTags('admin: connect tenants')
@AdminOnly()
@Controller('admin/connect/tenants')
export class TenantsController {
  constructor(
    private readonly repository: TenantsRepository,
    private readonly directory: TenantDirectory,
    private readonly audit: AuditSink,
    private readonly clock: Clock,
    private readonly host: ConnectHostClient,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Every tenant that installed the app (never their shared secrets)' })
  @ApiOkResponse({ type: TenantView, isArray: true })
  async list(): Promise<TenantView[]> {
    return (await this.repository.all()).map(tenantView);
  }

  @Get(':clientKey')
  @ApiOkResponse({ type: TenantView })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async one(@Param('clientKey') clientKey: string): Promise<TenantView> {
    const row = await this.repository.find(clientKey);
    if (!row) throw Problems.notFound('No such tenant', 'tenant_not_found');
    return tenantView(row);
  }

  @Patch(':clientKey')
  @ApiOperation({
    summary: 'Enable or disable a tenant; a disabled tenant\u2019s tokens are refused at once',
  })
  @ApiOkResponse({ type: TenantView })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async patch(
    @Param('clientKey') clientKey: string,
    @Body() body: TenantPatchDto,
    @CurrentPrincipal() principal: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<TenantView> {
    const row = await this.repository.setEnabled(
      clientKey,
      body.enabled,
      new Date(this.clock.now()),
    );
    if (!row) throw Problems.notFound('No such tenant', 'tenant_not_found');
    this.directory.changed(row);
    this.audit.record({
      event: body.enabled ? 'connect.tenant.enabled' : 'connect.tenant.disabled',
      outcome: 'success',
      ...madeBy(principal, meta),
      details: { clientKey },
    });
    return tenantView(row);
  }

  @Post(':clientKey/check')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Call the tenant back (GET a path of its REST API) as the app, or as a user through the JWT bearer grant',
  })
  @ApiOkResponse({ type: HostCheckView })
  @ApiBadRequestResponse({ description: 'The path or the account id cannot be sent' })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  @ApiConflictResponse({
    description:
      'The tenant is uninstalled or disabled, or acting as a user is not possible (no ACT_AS_USER scope, no oauthClientId)',
  })
  @ApiBadGatewayResponse({ description: 'The tenant or the authorization server did not answer' })
  async check(
    @Param('clientKey') clientKey: string,
    @Body() body: HostCheckDto,
  ): Promise<HostCheckView> {
    const path = body.path ?? '/rest/api/2/serverInfo';
    let answer: HostResponse;
    try {
      answer = body.accountId
        ? await this.host.requestAsUser(clientKey, body.accountId, { path })
        : await this.host.request(clientKey, { path });
    } catch (err) {
      if (!(err instanceof HostCallError)) throw err;
      throw await this.checkProblem(clientKey, err);
    }
    return { status: answer.status, asUser: body.accountId ?? null };
  }

  private async checkProblem(clientKey: string, err: HostCallError): Promise<DomainError> {
    switch (err.reason) {
      case 'invalid_request':
        return Problems.badRequest('The request is not valid', 'validation_failed', {
          errors: [{ field: err.field, messages: [err.message] }],
        });
      case 'unknown_tenant':
        // Tenants are served from memory; one stored but not held here has a shared secret this
        // instance cannot open (sealed under another key): it exists, but cannot be called.
        return (await this.repository.find(clientKey))
          ? Problems.conflict(
              'The tenant\u2019s shared secret cannot be opened here; it must install again',
              'tenant_not_callable',
            )
          : Problems.notFound('No such tenant', 'tenant_not_found');
      case 'not_callable':
        return Problems.conflict(err.message, 'tenant_not_callable');
      case 'failed':
        return new DomainError(502, 'tenant_call_failed', 'Bad Gateway', err.message);
    }
  }
}
