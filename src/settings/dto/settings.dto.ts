import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDefined, IsObject, ValidateNested } from 'class-validator';
import {
  ApiTokensDto,
  BypassDto,
  GroupsDto,
  IpDto,
  NativeOAuthDto,
  PublicApisDto,
  RateLimitDto,
  ToggleDto,
} from './access-settings.dto';
import { AuditDto } from './audit-settings.dto';
import { IdentityProviderDto, MAX_IDENTITY_PROVIDERS } from './identity-provider.dto';
import { KeysDto, TokensDto, UpstreamSessionsDto } from './token-settings.dto';

/**
 * The whole settings document; PUT sends all of it, PATCH a part that is merged first. Every
 * section is @IsObject as well as @ValidateNested: given an array, ValidateNested checks its
 * items, so `"ip": []` would pass (and `restApiAuthentication: []` would read as switched off).
 */
export class SettingsDto {
  @ApiProperty({ type: ToggleDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => ToggleDto)
  restApiAuthentication!: ToggleDto;
  @ApiProperty({ type: ToggleDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => ToggleDto)
  basicAuth!: ToggleDto;
  @ApiProperty({ type: ApiTokensDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => ApiTokensDto)
  apiTokens!: ApiTokensDto;
  @ApiProperty({ type: NativeOAuthDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => NativeOAuthDto)
  nativeOAuthTokens!: NativeOAuthDto;
  @ApiProperty({ type: GroupsDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => GroupsDto)
  groups!: GroupsDto;
  @ApiProperty({ type: IpDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => IpDto)
  ip!: IpDto;
  @ApiProperty({ type: PublicApisDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => PublicApisDto)
  publicApis!: PublicApisDto;
  @ApiProperty({ type: BypassDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => BypassDto)
  bypass!: BypassDto;
  @ApiProperty({ type: RateLimitDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rateLimit!: RateLimitDto;
  @ApiProperty({ type: AuditDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => AuditDto)
  audit!: AuditDto;
  @ApiProperty({ type: TokensDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => TokensDto)
  tokens!: TokensDto;
  @ApiProperty({ type: KeysDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => KeysDto)
  keys!: KeysDto;
  @ApiProperty({ type: UpstreamSessionsDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => UpstreamSessionsDto)
  upstreamSessions!: UpstreamSessionsDto;
  @ApiProperty({
    type: [IdentityProviderDto],
    description:
      'Identity providers whose tokens are accepted. An entry may leave out fields that keep their defaults',
  })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(MAX_IDENTITY_PROVIDERS)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => IdentityProviderDto)
  identityProviders!: IdentityProviderDto[];
}
