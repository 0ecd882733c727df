import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../../common/decorators/auth-policy.decorator';
import { RequestActor, RequestMeta } from '../../common/request-meta';
import { Settings } from '../../settings/settings.defaults';
import {
  NamedForgeRemotePresetDto,
  TestTokenDto,
  TokenTestView,
} from './dto/identity-providers.dto';
import { IdentityProvidersService } from './identity-providers.service';

/** Name of the provider the Forge Remote preset adds when the request names none. */
const FORGE_REMOTE_NAME = 'forge-remote';

@ApiTags('identity providers')
@AdminOnly()
@Controller('admin/identity-providers')
export class IdentityProvidersController {
  constructor(private readonly providers: IdentityProvidersService) {}

  @Post('presets/forge-remote')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Forge Remote: add (or replace, by name) a provider for a Forge app's invocation tokens — Atlassian's JWK set and issuer, the app id as audience; the other providers stay",
  })
  @ApiOkResponse({ description: 'The settings document as saved (secrets masked)' })
  forgeRemote(
    @Body() body: NamedForgeRemotePresetDto,
    @RequestMeta('actor') actor: RequestActor,
  ): Promise<Settings> {
    return this.providers.forgeRemote(body.name ?? FORGE_REMOTE_NAME, body, actor);
  }

  // Never echoes the token: only what Warden made of it.
  @Post('test')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Which identity provider judges a token, whether it passed or why not (reason code and message), and the user it maps to',
  })
  @ApiOkResponse({ type: TokenTestView })
  test(@Body() body: TestTokenDto): Promise<TokenTestView> {
    return this.providers.test(body.token);
  }
}
