import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Inject } from '@nestjs/common';
import {
  Authenticated,
  CurrentPrincipal,
  Public,
} from '../common/decorators/auth-policy.decorator';
import { Principal } from '../common/principal';
import { Problems } from '../common/problem/domain-error';
import { RequestMeta } from '../common/request-meta';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { ConnectLifecycleService } from './connect-lifecycle.service';
import { ConnectDescriptorView, LifecyclePayloadDto, WhoamiView } from './dto/connect.dto';
import { TenantDirectory } from './tenants/tenant-directory.service';

export const INSTALLED_PATH = '/connect/installed';
export const UNINSTALLED_PATH = '/connect/uninstalled';

/** Warden as an Atlassian Connect app: its descriptor, lifecycle callbacks and whoami. */
@ApiTags('atlassian connect')
@Controller()
export class ConnectController {
  constructor(
    private readonly lifecycle: ConnectLifecycleService,
    private readonly tenants: TenantDirectory,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  @Get('atlassian-connect.json')
  @Public()
  @ApiOperation({ summary: 'The Connect app descriptor the host product installs' })
  @ApiOkResponse({ type: ConnectDescriptorView })
  descriptor(): ConnectDescriptorView {
    const { connect, baseUrl } = this.config;
    return {
      key: connect.appKey,
      name: 'Warden',
      description: 'Authentication and authorization for the REST APIs of Atlassian apps',
      baseUrl,
      vendor: { name: 'Warden', url: baseUrl },
      apiVersion: 1,
      authentication: { type: 'jwt' },
      lifecycle: { installed: INSTALLED_PATH, uninstalled: UNINSTALLED_PATH },
      apiMigrations: { 'signed-install': true, 'context-qsh': true },
      scopes: connect.scopes,
      modules: {},
    };
  }

  @Post('connect/installed')
  @HttpCode(204)
  @Authenticated(['connect-install'])
  @ApiOperation({
    summary: 'Lifecycle: the host installed (or reinstalled) the app; signed install only',
  })
  @ApiBody({ type: LifecyclePayloadDto })
  @ApiNoContentResponse({ description: 'Installed; the shared secret is stored (sealed)' })
  @ApiBadRequestResponse({ description: 'The payload is not valid or names another app' })
  async installed(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<void> {
    await this.lifecycle.handle('installed', principal, body, meta);
  }

  @Post('connect/uninstalled')
  @HttpCode(204)
  @Authenticated(['connect-install'])
  @ApiOperation({ summary: 'Lifecycle: the host uninstalled the app; its tokens stop at once' })
  @ApiBody({ type: LifecyclePayloadDto })
  @ApiNoContentResponse({ description: 'Uninstalled; the tenant record is kept' })
  async uninstalled(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<void> {
    await this.lifecycle.handle('uninstalled', principal, body, meta);
  }

  @Get('connect/whoami')
  @Authenticated(['connect'], { connectContext: true })
  @ApiOperation({
    summary: 'The tenant and user a Connect JWT stands for (context tokens accepted here)',
  })
  @ApiOkResponse({ type: WhoamiView })
  whoami(@CurrentPrincipal() principal: Principal): WhoamiView {
    const tenant = this.tenants.get(principal.tenant!);
    if (!tenant) throw Problems.notFound('The tenant is gone', 'tenant_not_found');
    const accountId = principal.connect?.accountId;
    return {
      tenant: {
        clientKey: tenant.clientKey,
        baseUrl: tenant.baseUrl,
        productType: tenant.productType,
      },
      user: accountId ? { accountId } : null,
      context: principal.connect?.context === true,
    };
  }
}
