import { Body, Controller, Get, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AdminOnly } from '../../common/decorators/auth-policy.decorator';
import { RequestActor, RequestMeta } from '../../common/request-meta';
import { KeyView, RotateKeysDto } from './dto/keys.dto';
import { KeyRingService } from './key-ring.service';

@ApiTags('admin: signing keys')
@AdminOnly()
@Controller('admin/keys')
export class KeysController {
  constructor(private readonly keyRing: KeyRingService) {}

  @Get()
  @ApiOperation({
    summary: "Warden's signing keys in the JWKS, in signing order, with their state and dates",
  })
  @ApiOkResponse({ type: [KeyView] })
  list(): Promise<KeyView[]> {
    return this.keyRing.list();
  }

  @Post('rotate')
  @ApiOperation({
    summary:
      'Create a new signing key: published at once as `next`, it signs after keys.prePublishSeconds; the key before it stays published until its last token has expired',
  })
  @ApiCreatedResponse({ type: KeyView })
  @ApiBadRequestResponse({ description: 'Unknown algorithm' })
  rotate(@Body() dto: RotateKeysDto, @RequestMeta('actor') actor: RequestActor): Promise<KeyView> {
    return this.keyRing.rotate(dto.algorithm, actor);
  }
}
