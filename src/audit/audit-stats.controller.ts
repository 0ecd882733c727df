import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  AdminOnly,
  Authenticated,
  CurrentPrincipal,
} from '../common/decorators/auth-policy.decorator';
import { isAdmin, Principal } from '../common/principal';
import { AuditStatsService } from './audit-stats.service';
import {
  AuditRangeDto,
  AuditStatsQueryDto,
  AuditStatsView,
  CallerCountView,
} from './dto/audit-stats.dto';

@ApiTags('audit')
@Controller('admin/audit/stats')
export class AuditStatsController {
  constructor(private readonly stats: AuditStatsService) {}

  // Open to every signed-in user: the console's overview shows a non-administrator their own
  // activity, so `actor` is then always the caller.
  @Get()
  @Authenticated()
  @ApiOperation({
    summary:
      'Decisions and security events counted per minute, hour or day, by outcome and reason (non-administrators: their own only)',
  })
  @ApiOkResponse({ type: AuditStatsView })
  get(
    @Query() query: AuditStatsQueryDto,
    @CurrentPrincipal() caller: Principal,
  ): Promise<AuditStatsView> {
    return this.stats.stats({
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      bucket: query.bucket,
      actor: isAdmin(caller) ? query.actor : caller.username,
    });
  }

  @Get('callers')
  @AdminOnly()
  @ApiOperation({
    summary: 'The ten actors with the most events in the range (default: last hour)',
  })
  @ApiOkResponse({ type: [CallerCountView] })
  callers(@Query() query: AuditRangeDto): Promise<CallerCountView[]> {
    return this.stats.topCallers({
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
    });
  }
}
