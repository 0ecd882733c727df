import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../../common/decorators/auth-policy.decorator';
import { Jwks, KeyRingService } from './key-ring.service';

@ApiTags('keys')
@Controller('.well-known')
export class JwksController {
  constructor(private readonly keyRing: KeyRingService) {}

  @Get('jwks.json')
  @Public()
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOperation({
    summary:
      "Public keys of Warden's token signing keys (RFC 7517), current and still-valid retired ones",
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
