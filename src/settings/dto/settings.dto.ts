import safeRegex from 'safe-regex2';
import { EXTERNAL_ALGORITHMS } from '../../common/jwt/external-algorithms';
import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  registerDecorator,
  ValidateIf,
  ValidateNested,
  ValidationOptions,
} from 'class-validator';
import { isSchedulableCron } from '../../common/cron';
import { isValidIpOrCidr } from '../../common/ip';
import { isValidPathPattern } from '../path-pattern';
import { MIN_PRE_PUBLISH_SECONDS } from '../key-timing';
import { MAX_SESSION_CACHE_SECONDS } from '../settings.defaults';

/** A field that must be present and may be null. */
const Nullable = (prop: string) => ValidateIf((o: Record<string, unknown>) => o[prop] !== null);

function Check(
  name: string,
  test: (value: unknown) => boolean,
  message: string,
  options?: ValidationOptions,
) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: { message, ...options },
      validator: { validate: test },
    });
}

const IsIpOrCidr = (o?: ValidationOptions) =>
  Check(
    'isIpOrCidr',
    (v) => typeof v === 'string' && isValidIpOrCidr(v),
    '$property must hold IPv4 / IPv6 addresses or CIDR ranges',
    o,
  );
const IsPathPattern = (o?: ValidationOptions) =>
  Check(
    'isPathPattern',
    (v) => typeof v === 'string' && isValidPathPattern(v),
    '$property must hold "/glob" or "METHOD /glob" patterns',
    o,
  );
const IsCron = () =>
  Check(
    'isCron',
    (v) => {
      // An expression that parses but never fires (30 February) would leave retention unscheduled.
      return typeof v === 'string' && v.length <= 100 && isSchedulableCron(v);
    },
    '$property must be a cron expression that fires (read in UTC)',
  );
const IsSafeRegex = () =>
  Check(
    'isRegex',
    (v) => {
      if (typeof v !== 'string' || v.length > 500) return false;
      try {
        new RegExp(v);
      } catch {
        return false;
      }
      // Nested quantifiers ((a+)+ and the like) backtrack catastrophically: a token's claim
      // must not be able to stall the event loop.
      return safeRegex(v);
    },
    '$property must be a regular expression of at most 500 characters, without nested quantifiers',
  );

const GROUP_LIST = [
  IsArray(),
  ArrayMaxSize(200),
  IsString({ each: true }),
  MaxLength(255, { each: true }),
];
const apply =
  (decorators: PropertyDecorator[]): PropertyDecorator =>
  (target, key) =>
    decorators.forEach((d) => d(target, key));

class ToggleDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
}

class ApiTokensDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
  @ApiProperty() @IsDefined() @IsBoolean() usersCanCreate!: boolean;
  @ApiProperty({ example: 365 }) @IsDefined() @IsInt() @Min(1) @Max(3650) maxLifetimeDays!: number;
  @ApiProperty({ example: 20 }) @IsDefined() @IsInt() @Min(1) @Max(1000) maxPerUser!: number;
}

class NativeOAuthDto {
  @ApiProperty() @IsDefined() @IsBoolean() allowed!: boolean;
}

class GroupsDto {
  @ApiProperty({ type: [String] }) @IsDefined() @apply(GROUP_LIST) apiAccess!: string[];
  @ApiProperty({ type: [String] }) @IsDefined() @apply(GROUP_LIST) readOnly!: string[];
  @ApiProperty({ type: [String] }) @IsDefined() @apply(GROUP_LIST) tokenCreators!: string[];
}

class IpDto {
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

class PublicApisDto {
  @ApiProperty() @IsDefined() @IsBoolean() requireAuthentication!: boolean;
  @ApiProperty({ type: [String], example: ['GET /rest/api/*/serverInfo'] })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(500)
  @IsPathPattern({ each: true })
  paths!: string[];
}

class BypassDto {
  @ApiProperty({ type: [String], example: ['/status'] })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(500)
  @IsPathPattern({ each: true })
  paths!: string[];
}

class RateLimitDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
  @ApiProperty({ example: 600 }) @IsDefined() @IsInt() @Min(1) @Max(1_000_000) requests!: number;
  @ApiProperty({ example: 60 }) @IsDefined() @IsInt() @Min(1) @Max(86_400) windowSeconds!: number;
}

class AuditDto {
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
  @ApiProperty({ example: 90 }) @IsDefined() @IsInt() @Min(1) @Max(3650) retentionDays!: number;
  @ApiProperty({ example: 1_000_000 })
  @IsDefined()
  @IsInt()
  @Min(1000)
  @Max(1_000_000_000)
  maxEntries!: number;
  @ApiProperty({ example: '0 * * * *' }) @IsDefined() @IsCron() purgeCron!: string;
}

class TokensDto {
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

class KeysDto {
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

class UpstreamSessionsDto {
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

/** Most providers a document lists: each has its own key source and caches. */
export const MAX_IDENTITY_PROVIDERS = 20;

class IdentityProviderDto {
  @ApiProperty({
    example: 'corporate',
    description: 'Unique in the list; 1 to 64 of A-Z a-z 0-9 . _ -',
  })
  @IsDefined()
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, {
    message: '$property must be 1 to 64 letters, digits, dots, underscores or hyphens',
  })
  name!: string;
  @ApiProperty() @IsDefined() @IsBoolean() enabled!: boolean;
  @ApiProperty({ enum: ['publicKey', 'jwks', 'introspection'] })
  @IsDefined()
  @IsIn(['publicKey', 'jwks', 'introspection'])
  mode!: 'publicKey' | 'jwks' | 'introspection';
  @ApiProperty({ nullable: true, type: String })
  @Nullable('publicKey')
  @IsString()
  @MaxLength(20_000)
  publicKey!: string | null;
  @ApiProperty({ nullable: true, type: String })
  @Nullable('jwksUrl')
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  jwksUrl!: string | null;
  @ApiProperty({ nullable: true, type: String })
  @Nullable('introspectionUrl')
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2000)
  introspectionUrl!: string | null;
  @ApiProperty({ nullable: true, type: String })
  @Nullable('clientId')
  @IsString()
  @MaxLength(500)
  clientId!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Masked when read; send the mask back to keep it',
  })
  @Nullable('clientSecret')
  @IsString()
  @MaxLength(2000)
  clientSecret!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      "Unique in the list: a JWT goes to the provider its `iss` names. Never Warden's own",
  })
  @Nullable('issuer')
  @IsString()
  @MinLength(1)
  @MaxLength(2000)
  issuer!: string | null;
  @ApiProperty({ nullable: true, type: String })
  @Nullable('audience')
  @IsString()
  @MaxLength(2000)
  audience!: string | null;
  @ApiProperty({ type: [String], example: ['RS256'], enum: EXTERNAL_ALGORITHMS })
  @IsDefined()
  @IsArray()
  @ArrayMaxSize(10)
  @IsIn(EXTERNAL_ALGORITHMS, { each: true })
  algorithms!: string[];
  @ApiProperty({ example: 'sub' })
  @IsDefined()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  usernameClaim!: string;
  @ApiProperty({ nullable: true, type: String })
  @Nullable('usernameRegex')
  @IsSafeRegex()
  usernameRegex!: string | null;
  @ApiProperty({ nullable: true, type: String })
  @Nullable('groupsClaim')
  @IsString()
  @MaxLength(200)
  groupsClaim!: string | null;
  @ApiProperty({ example: 60, description: '0 asks the introspection endpoint every time' })
  @IsDefined()
  @IsInt()
  @Min(0)
  @Max(3600)
  introspectionCacheSeconds!: number;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '^idp_[A-Za-z0-9]{40}$',
    description:
      "Introspection mode: the opaque tokens that are this provider's, an anchored regex (^…$); no other opaque token is sent to it. Required while nativeOAuthTokens.allowed is on",
  })
  @Nullable('opaqueTokens')
  @IsSafeRegex()
  // An escaped \$ at the end is a dollar sign, not the end of the token.
  @Matches(/^\^[\s\S]*(?<!\\)(?:\\\\)*\$$/, {
    message: '$property must be anchored: start with ^ and end with $',
  })
  opaqueTokens!: string | null;
  @ApiProperty({ description: 'Use the local user of the same name (and its groups) if any' })
  @IsDefined()
  @IsBoolean()
  mapToLocalUser!: boolean;
  @ApiProperty({
    required: false,
    default: false,
    description:
      'Let mapToLocalUser map to a member of warden-admins; off, such a token is refused (absent: off)',
  })
  // Optional so that a document written before the field existed (an older export) still saves.
  @IsOptional()
  @IsBoolean()
  allowAdminMapping?: boolean;
}

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
