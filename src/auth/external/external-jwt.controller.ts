import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../../common/decorators/auth-policy.decorator';
import { RequestActor, RequestMeta } from '../../common/request-meta';
import { LEGACY_PROVIDER_NAME, Settings } from '../../settings/settings.defaults';
import { ForgeRemotePresetDto, TestTokenDto, TokenTestView } from './dto/identity-providers.dto';
import { IdentityProvidersService } from './identity-providers.service';

/**
 * The single-provider routes of the `externalJwt` era, kept for one release: they answer as
 * before, acting on the provider named `default` (where an upgraded `externalJwt` block went).
 * Use /admin/identity-providers instead.
 */
@ApiTags('identity providers')
@AdminOnly()
@Controller('admin/external-jwt')
export class ExternalJwtController {
  constructor(private readonly providers: IdentityProvidersService) {}

  @Post('presets/forge-remote')
  @HttpCode(200)
  @ApiOperation({
    deprecated: true,
    summary:
      'Deprecated (use POST /admin/identity-providers/presets/forge-remote): the Forge Remote preset for the provider named "default"',
  })
  @ApiOkResponse({ description: 'The settings document as saved (secrets masked)' })
  forgeRemote(
    @Body() body: ForgeRemotePresetDto,
    @RequestMeta('actor') actor: RequestActor,
  ): Promise<Settings> {
    return this.providers.forgeRemote(LEGACY_PROVIDER_NAME, body, actor);
  }

  @Post('test')
  @HttpCode(200)
  @ApiOperation({
    deprecated: true,
    summary:
      'Deprecated (use POST /admin/identity-providers/test): check a token against the identity providers',
  })
  @ApiOkResponse({ type: TokenTestView })
  test(@Body() body: TestTokenDto): Promise<TokenTestView> {
    return this.providers.test(body.token);
  }
}
