import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../../common/decorators/auth-policy.decorator';
import { Jwks, KeyRingService } from './key-ring.service';
import { JWKS_MAX_AGE_SECONDS } from '../../settings/key-timing';

@ApiTags('keys')
@Controller('.well-known')
export class JwksController {
  constructor(private readonly keyRing: KeyRingService) {}

  @Get('jwks.json')
  @Public()
  @Header('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
  @ApiOperation({
    summary:
      "Public keys of Warden's token signing keys (RFC 7517): the next one (published before it signs), the active one, and retired ones until their last token has expired",
  })
  @ApiOkResponse({
    schema: {
      example: {
        keys: [
          {
            kty: 'RSA',
            kid: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
            alg: 'RS256',
            use: 'sig',
            n: '…',
            e: 'AQAB',
          },
        ],
      },
    },
  })
  jwks(): Jwks {
    return this.keyRing.publishedKeys();
  }
}
