import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuditSink } from '../../audit/audit.port';
import { AdminOnly, CurrentPrincipal } from '../../common/decorators/auth-policy.decorator';
import { Principal } from '../../common/principal';
import { Problems } from '../../common/problem/domain-error';
import { madeBy, RequestMeta } from '../../common/request-meta';
import { DirectoryService } from '../directory/directory.service';
import { SessionViewDto } from '../dto/auth.dto';
import { SessionsService } from './sessions.service';

/**
 * An administrator's view of anyone's sessions (docs/api.md#sessions): list them, end one or all.
 * Ending is audited as `auth.sessions.revoked` with who ended whose sessions.
 */
@ApiTags('admin: users')
@AdminOnly()
@Controller('admin/users/:username/sessions')
export class AdminSessionsController {
  constructor(
    private readonly directory: DirectoryService,
    private readonly sessions: SessionsService,
    private readonly audit: AuditSink,
  ) {}

  @Get()
  @ApiOperation({ summary: "A user's live sessions" })
  @ApiOkResponse({ type: [SessionViewDto] })
  @ApiNotFoundResponse({ description: 'No such user' })
  async list(@Param('username') username: string): Promise<SessionViewDto[]> {
    return this.sessions.list((await this.userOf(username)).id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: "End one of a user's sessions" })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: 'No such user, or no such live session of theirs' })
  async endOne(
    @Param('username') username: string,
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentPrincipal() admin: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<void> {
    const user = await this.userOf(username);
    await this.sessions.revokeOwn(user.id, id);
    this.record(admin, meta, user.username, { sessions: [id] });
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({ summary: "End all of a user's sessions, everywhere" })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: 'No such user' })
  async endAll(
    @Param('username') username: string,
    @CurrentPrincipal() admin: Principal,
    @RequestMeta() meta: RequestMeta,
  ): Promise<void> {
    const user = await this.userOf(username);
    const count = await this.sessions.revokeAllForUser(user.id, 'admin_revoked_all');
    this.record(admin, meta, user.username, { count });
  }

  private async userOf(username: string) {
    const user = username.length <= 255 ? await this.directory.findByUsername(username) : null;
    if (!user) throw Problems.notFound(`No user ${username}`, 'user_not_found');
    return user;
  }

  private record(
    admin: Principal,
    meta: RequestMeta,
    username: string,
    details: Record<string, unknown>,
  ): void {
    this.audit.record({
      event: 'auth.sessions.revoked',
      outcome: 'success',
      ...madeBy(admin, meta),
      details: { user: username, ...details },
    });
  }
}
