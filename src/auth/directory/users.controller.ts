import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AdminOnly, CurrentPrincipal } from '../../common/decorators/auth-policy.decorator';
import { Principal } from '../../common/principal';
import { Actor } from './directory-audit';
import { DirectoryService } from './directory.service';
import { GroupAdminService } from './group-admin.service';
import {
  CreateGroupDto,
  CreateUserDto,
  GroupView,
  RenameGroupDto,
  UpdateUserDto,
  UserPage,
  UserView,
} from './dto/directory.dto';
import { PageQuery } from './dto/page.query';

function actor(principal: Principal, request: FastifyRequest): Actor {
  return { username: principal.username, requestId: String(request.id), ip: request.ip };
}

@ApiTags('admin: users and groups')
@AdminOnly()
@Controller('admin')
export class UsersController {
  constructor(
    private readonly directory: DirectoryService,
    private readonly groupAdmin: GroupAdminService,
  ) {}

  @Post('users')
  @ApiOperation({ summary: 'Create a user (usernames are unique regardless of case)' })
  @ApiCreatedResponse({ type: UserView })
  @ApiConflictResponse({ description: 'A user with this username exists' })
  createUser(
    @Body() dto: CreateUserDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<UserView> {
    return this.directory.createUser(dto, actor(principal, request));
  }

  @Get('users')
  @ApiOperation({ summary: 'List users' })
  @ApiOkResponse({ type: UserPage })
  @ApiQuery({ name: 'offset', required: false })
  @ApiQuery({ name: 'limit', required: false })
  listUsers(@Query() page: PageQuery): Promise<UserPage> {
    return this.directory.listUsers(page.offset ?? 0, page.limit ?? 50);
  }

  @Get('users/:username')
  @ApiOperation({ summary: 'Get a user' })
  @ApiOkResponse({ type: UserView })
  @ApiNotFoundResponse()
  getUser(@Param('username') username: string): Promise<UserView> {
    return this.directory.getUser(username);
  }

  @Patch('users/:username')
  @ApiOperation({ summary: 'Change a user; a new password or disabling ends their sessions' })
  @ApiOkResponse({ type: UserView })
  @ApiNotFoundResponse()
  updateUser(
    @Param('username') username: string,
    @Body() dto: UpdateUserDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<UserView> {
    return this.directory.updateUser(username, dto, actor(principal, request));
  }

  @Delete('users/:username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user; their sessions end' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  async deleteUser(
    @Param('username') username: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.directory.deleteUser(username, actor(principal, request));
  }

  @Post('groups')
  @ApiOperation({ summary: 'Create a group' })
  @ApiCreatedResponse({ type: GroupView })
  @ApiConflictResponse({ description: 'A group with this name exists' })
  createGroup(
    @Body() dto: CreateGroupDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<GroupView> {
    return this.directory.createGroup(dto, actor(principal, request));
  }

  @Get('groups')
  @ApiOperation({ summary: 'List groups' })
  @ApiOkResponse({ type: [GroupView] })
  listGroups(): Promise<GroupView[]> {
    return this.directory.listGroups();
  }

  @Patch('groups/:name')
  @ApiOperation({
    summary:
      'Rename a group: its members keep it, and every settings list that names it (groups.apiAccess, groups.readOnly, groups.tokenCreators) follows, in one transaction',
  })
  @ApiOkResponse({ type: GroupView })
  @ApiBadRequestResponse({ description: 'The new name is not a valid group name' })
  @ApiNotFoundResponse({ description: 'No such group (group_not_found)' })
  @ApiConflictResponse({
    description:
      'Another group has the new name (group_exists), or the group is warden-admins (admin_group_protected)',
  })
  renameGroup(
    @Param('name') name: string,
    @Body() dto: RenameGroupDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<GroupView> {
    return this.groupAdmin.renameGroup(name, dto, actor(principal, request));
  }

  @Delete('groups/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a group and its memberships, unless a settings list names it' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: 'No such group (group_not_found)' })
  @ApiConflictResponse({
    description:
      'A settings list names the group (group_in_use; `settings` lists the paths), or the group is warden-admins (admin_group_protected)',
  })
  async deleteGroup(
    @Param('name') name: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    await this.groupAdmin.deleteGroup(name, actor(principal, request));
  }
}
