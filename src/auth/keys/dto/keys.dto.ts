import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { IsOmittable } from '../../../common/is-omittable';
import { SIGNING_ALGORITHMS, SigningAlgorithm } from '../../../config/warden-config';

export class RotateKeysDto {
  @ApiPropertyOptional({
    enum: SIGNING_ALGORITHMS,
    description: 'Algorithm of the new key; WARDEN_SIGNING_ALGORITHM when absent',
  })
  @IsOmittable()
  @IsIn(SIGNING_ALGORITHMS)
  algorithm?: SigningAlgorithm;
}

export class KeyView {
  @ApiProperty({ example: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' }) kid!: string;
  @ApiProperty({ enum: SIGNING_ALGORITHMS, example: 'RS256' }) algorithm!: string;
  @ApiProperty({
    enum: ['next', 'active', 'retiring'],
    description:
      'next: published, signs from activatesAt; active: signs now; retiring: signs no more, published until publishedUntil',
  })
  state!: string;
  @ApiProperty({ example: '2026-11-20T09:00:00.000Z' }) createdAt!: string;
  @ApiProperty({ example: '2026-11-20T09:10:00.000Z', description: 'When it starts signing' })
  activatesAt!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'When it stops signing (the next key activates); null while no key follows it',
  })
  retiresAt!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'When it leaves the JWKS: the last token it signed has expired by then',
  })
  publishedUntil!: string | null;
}
