import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  ValidateBy,
} from 'class-validator';
import { ACCOUNT_ID_PATTERN, targetProblem } from '../host-request';

const URL_OPTIONS = { protocols: ['https', 'http'], require_protocol: true, require_tld: false };

/**
 * The lifecycle payload the host product sends (Atlassian documents more fields than these;
 * the rest are accepted and ignored).
 */
export class LifecyclePayloadDto {
  @ApiProperty({ description: 'The app key the host installed', example: 'warden' })
  @IsString()
  @Length(1, 255)
  key!: string;

  @ApiProperty({ example: 'jira:a1b2c3d4-0000-4000-8000-000000000001' })
  @IsString()
  @Length(1, 255)
  @Matches(/^[\x21-\x7e]+$/, { message: 'clientKey must be printable ASCII without spaces' })
  clientKey!: string;

  @ApiPropertyOptional({ description: 'Sent on install; at least 32 characters' })
  @IsOptional()
  @IsString()
  @Length(32, 1024)
  sharedSecret?: string;

  @ApiProperty({ example: 'https://example.atlassian.net' })
  @IsUrl(URL_OPTIONS)
  @Length(1, 2048)
  baseUrl!: string;

  @ApiPropertyOptional({ example: 'https://jira.example.com' })
  @IsOptional()
  @IsUrl(URL_OPTIONS)
  @Length(1, 2048)
  displayUrl?: string;

  @ApiProperty({ example: 'jira' })
  @IsString()
  @Length(1, 64)
  productType!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 1024)
  description?: string;

  @ApiPropertyOptional({ description: 'For the JWT bearer grant (user impersonation)' })
  @IsOptional()
  @IsString()
  @Length(1, 255)
  oauthClientId?: string;

  @ApiProperty({ enum: ['installed', 'uninstalled'] })
  @IsIn(['installed', 'uninstalled'])
  eventType!: 'installed' | 'uninstalled';
}

export class TenantView {
  @ApiProperty() clientKey!: string;
  @ApiProperty() baseUrl!: string;
  @ApiProperty({ nullable: true, type: String }) displayUrl!: string | null;
  @ApiProperty({ example: 'jira' }) productType!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ nullable: true, type: String }) oauthClientId!: string | null;
  @ApiProperty({ description: 'Lifecycle state: false after an uninstall' }) installed!: boolean;
  @ApiProperty({ description: "An administrator's switch" }) enabled!: boolean;
  @ApiProperty() installedAt!: string;
  @ApiProperty({ nullable: true, type: String }) uninstalledAt!: string | null;
}

export class TenantPatchDto {
  @ApiProperty({
    description: 'false: the tenant\u2019s tokens are refused at once',
    example: false,
  })
  @IsBoolean()
  enabled!: boolean;
}

/** The app descriptor (Atlassian's `atlassian-connect.json`). */
export class ConnectDescriptorView {
  @ApiProperty({ description: 'CONNECT_APP_KEY', example: 'warden' }) key!: string;
  @ApiProperty({ example: 'Warden' }) name!: string;
  @ApiProperty({
    example: 'Authentication and authorization for the REST APIs of Atlassian apps',
  })
  description!: string;

  @ApiProperty({ description: 'WARDEN_BASE_URL', example: 'https://warden.example.com' })
  baseUrl!: string;

  @ApiProperty({ example: { name: 'Warden', url: 'https://warden.example.com' } })
  vendor!: { name: string; url: string };

  @ApiProperty({ example: 1 }) apiVersion!: number;
  @ApiProperty({ example: { type: 'jwt' } }) authentication!: { type: 'jwt' };

  @ApiProperty({
    example: { installed: '/connect/installed', uninstalled: '/connect/uninstalled' },
  })
  lifecycle!: { installed: string; uninstalled: string };

  @ApiProperty({ example: { 'signed-install': true, 'context-qsh': true } })
  apiMigrations!: Record<string, boolean>;

  @ApiProperty({ description: 'CONNECT_SCOPES', type: [String], example: ['READ', 'ACT_AS_USER'] })
  scopes!: string[];

  @ApiProperty({ example: {} }) modules!: Record<string, unknown>;
}

export class WhoamiView {
  @ApiProperty({
    example: {
      clientKey: 'jira:a1b2…',
      baseUrl: 'https://example.atlassian.net',
      productType: 'jira',
    },
  })
  tenant!: { clientKey: string; baseUrl: string; productType: string };

  @ApiProperty({ nullable: true, example: { accountId: '5b10a2844c20165700ede21g' } })
  user!: { accountId: string } | null;

  @ApiProperty({ description: 'true for a context token (qsh: context-qsh)' })
  context!: boolean;
}

/** A target the host client can send exactly as it signs it (see wireTarget). */
function IsTenantPath(): PropertyDecorator {
  return ValidateBy({
    name: 'isTenantPath',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && targetProblem(value) === null,
      defaultMessage: (args) =>
        `${args?.property ?? 'path'} ${typeof args?.value === 'string' ? targetProblem(args.value) : 'must be a string'}`,
    },
  });
}

export class HostCheckDto {
  @ApiPropertyOptional({
    description:
      'A path of the tenant\u2019s REST API relative to its base URL, with its query. Characters a URL cannot hold as they are (a space, non-ASCII) are percent-encoded as UTF-8 before the request is signed; control characters, `\\`, `#`, `.`/`..` segments and a `%` that is not an escape are refused',
    example: '/rest/api/2/serverInfo',
  })
  @IsOptional()
  @IsString()
  @Length(1, 2048)
  @IsTenantPath()
  path?: string;

  @ApiPropertyOptional({
    description: 'Act as this Atlassian account (needs ACT_AS_USER)',
    example: '5b10a2844c20165700ede21g',
  })
  @IsOptional()
  @IsString()
  @Matches(ACCOUNT_ID_PATTERN, {
    message: 'accountId must be 1 to 128 printable ASCII characters without spaces',
  })
  accountId?: string;
}

export class HostCheckView {
  @ApiProperty({ description: 'The status the tenant answered', example: 200 }) status!: number;
  @ApiProperty({ nullable: true, type: String }) asUser!: string | null;
}
