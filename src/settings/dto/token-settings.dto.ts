import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsDefined, IsInt, Max, Min } from 'class-validator';
import { MIN_PRE_PUBLISH_SECONDS } from '../key-timing';
import { MAX_SESSION_CACHE_SECONDS } from '../settings.defaults';

/** The sections on Warden's own credentials: token lifetimes, signing keys, upstream sessions. */
export class TokensDto {
  @ApiProperty({ example: 900 })
  @IsDefined()
  @IsInt()
  @Min(30)
  @Max(86_400)
  accessTtlSeconds!: number;
  @ApiProperty({ example: 604_800 })
  @IsDefined()
  @IsInt()
  @Min(60)
  @Max(31_536_000)
  refreshTtlSeconds!: number;
  @ApiProperty() @IsDefined() @IsBoolean() rotateRefreshTokens!: boolean;
  @ApiProperty({ example: 30 }) @IsDefined() @IsInt() @Min(0) @Max(300) reuseGraceSeconds!: number;
}

export class KeysDto {
  // Longer than verifiers may cache the JWKS, or one holding the set fetched just before a
  // rotation meets tokens signed with a key it does not know.
  @ApiProperty({
    example: 600,
    minimum: MIN_PRE_PUBLISH_SECONDS,
    description: 'Seconds a new signing key is published in the JWKS before it signs',
  })
  @IsDefined()
  @IsInt()
  @Min(MIN_PRE_PUBLISH_SECONDS)
  @Max(7 * 86_400)
  prePublishSeconds!: number;
  @ApiProperty({ example: 90, description: 'Days between scheduled rotations; 0: never' })
  @IsDefined()
  @IsInt()
  @Min(0)
  @Max(3650)
  rotateEveryDays!: number;
}

export class UpstreamSessionsDto {
  @ApiProperty({ description: 'Judge the upstream session cookie at the decision endpoint' })
  @IsDefined()
  @IsBoolean()
  decision!: boolean;
  // Bounded: a session ended in the upstream stays accepted here for up to this long.
  @ApiProperty({ example: 30, description: 'Seconds an upstream answer about a cookie is reused' })
  @IsDefined()
  @IsInt()
  @Min(1)
  @Max(MAX_SESSION_CACHE_SECONDS)
  cacheSeconds!: number;
}
