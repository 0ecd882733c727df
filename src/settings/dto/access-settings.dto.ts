import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsString,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { apply, GROUP_LIST, IsIpOrCidr, IsPathPattern } from './settings-checks';

/** The sections that decide who is let in: credential kinds, groups, addresses, paths, rate. */
export class ToggleDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
}

export class ApiTokensDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
  @ApiProperty() @IsDefined() @IsBoolean() usersCanCreate!: boolean;
  @ApiProperty({ example: 365 }) @IsDefined() @IsInt() @Min(1) @Max(3650) maxLifetimeDays!: number;
  @ApiProperty({ example: 20 }) @IsDefined() @IsInt() @Min(1) @Max(1000) maxPerUser!: number;
}

export class NativeOAuthDto {
  @ApiProperty() @IsDefined() @IsBoolean() allowed!: boolean;
}

export class GroupsDto {
  @ApiProperty({ type: [String] }) @IsDefined() @apply(GROUP_LIST) apiAccess!: string[];
  @ApiProperty({ type: [String] }) @IsDefined() @apply(GROUP_LIST) readOnly!: string[];
  @ApiProperty({ type: [String] }) @IsDefined() @apply(GROUP_LIST) tokenCreators!: string[];
}

export class IpDto {
  @ApiProperty({ type: [String], example: ['10.0.0.0/8', '2001:db8::/32'] })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsIpOrCidr({ each: true })
  allow!: string[];

  @ApiProperty({ type: [String], example: ['127.0.0.1/32', '::1/128'] })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(100)
  @IsIpOrCidr({ each: true })
  trustedProxies!: string[];

  @ApiProperty({ example: 'X-Forwarded-For' })
  @IsDefined()
  @IsString()
  @Matches(/^[A-Za-z0-9-]{1,64}$/, { message: '$property must be an HTTP header name' })
  clientIpHeader!: string;
}

export class PublicApisDto {
  @ApiProperty() @IsDefined() @IsBoolean() requireAuthentication!: boolean;
  @ApiProperty({ type: [String], example: ['GET /rest/api/*/serverInfo'] })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(500)
  @IsPathPattern({ each: true })
  paths!: string[];
}

export class BypassDto {
  @ApiProperty({ type: [String], example: ['/status'] })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(500)
  @IsPathPattern({ each: true })
  paths!: string[];
}

export class RateLimitDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
  @ApiProperty({ example: 600 }) @IsDefined() @IsInt() @Min(1) @Max(1_000_000) requests!: number;
  @ApiProperty({ example: 60 }) @IsDefined() @IsInt() @Min(1) @Max(86_400) windowSeconds!: number;
}
