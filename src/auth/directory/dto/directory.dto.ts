import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEmail,
  IsOptional,
  ValidateIf,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { API_TOKEN_MARK } from '../../../common/credentials';
import { IsOmittable } from '../../../common/is-omittable';
import { IsGroupName } from '../group-name';

/** Letters, digits and . _ @ + - : what Jira and Confluence accept in usernames, minus spaces. */
const USERNAME = /^[\p{L}\p{N}._@+-]+$/u;

/**
 * Over Basic a password starting with `wdn_` is taken for a personal API token, so its user
 * could never sign in with it there.
 */
const NotLikeApiToken = () =>
  Matches(new RegExp(`^(?!${API_TOKEN_MARK})`), {
    message: `password must not start with ${API_TOKEN_MARK} (personal API tokens do)`,
  });

export class CreateUserDto {
  @ApiProperty({ example: 'alice' })
  @IsString()
  @Length(1, 255)
  @Matches(USERNAME, { message: 'username may contain letters, digits and . _ @ + - only' })
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple', minLength: 12 })
  @IsString()
  @Length(12, 1024)
  @NotLikeApiToken()
  password!: string;

  @ApiPropertyOptional({ example: 'Alice Example' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  displayName?: string;

  @ApiPropertyOptional({ example: 'alice@example.com' })
  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  email?: string;

  @ApiPropertyOptional({ example: ['jira-users'], type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  // Group names are 255 characters at most (IsGroupName): a longer one names no group.
  @MaxLength(255, { each: true })
  groups?: string[];
}

export class UpdateUserDto {
  @ApiPropertyOptional({ minLength: 12 })
  @IsOmittable()
  @IsString()
  @Length(12, 1024)
  @NotLikeApiToken()
  password?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(255)
  displayName?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  email?: string;

  @ApiPropertyOptional({ type: [String], description: "Replaces the user's group memberships" })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  // Group names are 255 characters at most (IsGroupName): a longer one names no group.
  @MaxLength(255, { each: true })
  groups?: string[];

  @ApiPropertyOptional({ description: 'A disabled user cannot authenticate; their sessions end' })
  @IsOmittable()
  @IsBoolean()
  disabled?: boolean;
}

export class CreateGroupDto {
  @ApiProperty({
    example: 'api-users',
    minLength: 1,
    maxLength: 255,
    description: 'Letters, digits, spaces and . _ @ + -',
  })
  @IsGroupName()
  name!: string;
}

export class RenameGroupDto {
  @ApiProperty({
    example: 'api-consumers',
    minLength: 1,
    maxLength: 255,
    description: 'The new name: letters, digits, spaces and . _ @ + -',
  })
  @IsGroupName()
  name!: string;
}

/**
 * A user as a migration between instances carries it: no password, no API token. The same rules
 * as the API's; a migrated user signs in once an administrator gives them a password (or through
 * the upstream product or an identity provider).
 */
export class MigratedUserDto {
  @IsString()
  @Length(1, 255)
  @Matches(USERNAME, { message: 'username may contain letters, digits and . _ @ + - only' })
  username!: string;

  @ValidateIf((o: MigratedUserDto) => o.displayName !== null)
  @IsString()
  @MaxLength(255)
  displayName!: string | null;

  @ValidateIf((o: MigratedUserDto) => o.email !== null)
  @IsEmail()
  @MaxLength(320)
  email!: string | null;

  @IsBoolean()
  disabled!: boolean;

  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  groups!: string[];
}

export class UserView {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'alice' }) username!: string;
  @ApiProperty({ nullable: true, type: String }) displayName!: string | null;
  @ApiProperty({ nullable: true, type: String }) email!: string | null;
  @ApiProperty({ type: [String], example: ['jira-users'] }) groups!: string[];
  @ApiProperty() disabled!: boolean;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class UserPage {
  @ApiProperty({ type: [UserView] }) items!: UserView[];
  @ApiProperty() total!: number;
}

export class GroupView {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'api-users' }) name!: string;
  @ApiProperty() createdAt!: string;
}
