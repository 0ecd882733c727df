import { EXTERNAL_ALGORITHMS } from '../../common/jwt/external-algorithms';
import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { IsSafeRegex, Nullable } from './settings-checks';

/** Most providers a document lists: each has its own key source and caches. */
export const MAX_IDENTITY_PROVIDERS = 20;

export class IdentityProviderDto {
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
