import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, IsUrl, Length, Matches } from 'class-validator';

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
  @ApiProperty({ description: 'false: the tenant\u2019s tokens are refused at once' })
  @IsBoolean()
  enabled!: boolean;
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

export class HostCheckDto {
  @ApiPropertyOptional({
    description: 'A path of the tenant\u2019s REST API, relative to its base URL',
    example: '/rest/api/2/serverInfo',
  })
  @IsOptional()
  @IsString()
  @Length(1, 2048)
  @Matches(/^\/(?!\/)[^\\#]*$/, { message: 'path must be relative to the tenant: /rest/…' })
  path?: string;

  @ApiPropertyOptional({ description: 'Act as this Atlassian account (needs ACT_AS_USER)' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  accountId?: string;
}

export class HostCheckView {
  @ApiProperty({ description: 'The status the tenant answered', example: 200 }) status!: number;
  @ApiProperty({ nullable: true, type: String }) asUser!: string | null;
}
