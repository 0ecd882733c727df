import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { Public } from '../common/decorators/auth-policy.decorator';
import { RateLimiterService } from '../restrictions/rate-limit/rate-limiter.service';

const READY_TIMEOUT_MS = 2000;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly limiter: RateLimiterService,
  ) {}

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live() {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'The process can serve: its database answers (and Redis, when configured)',
    description:
      'Not ready (503) while the database does not answer. Redis, when REDIS_URL is set, is ' +
      'checked and reported, but an instance without it still serves (rate limits per instance, ' +
      'changes by polling): then the answer is 200 with status `degraded`.',
  })
  @ApiOkResponse({
    schema: { example: { status: 'ok', checks: { database: 'ok', redis: 'ok' } } },
  })
  @ApiServiceUnavailableResponse({
    schema: { example: { status: 'unavailable', checks: { database: 'down', redis: 'ok' } } },
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const redisPing = this.limiter.pingSharedStorage();
    const [database, redis] = await Promise.all([
      answers(this.dataSource.query('SELECT 1')),
      redisPing && answers(redisPing),
    ]);
    if (database !== 'ok') reply.status(503);
    const status = database !== 'ok' ? 'unavailable' : redis === 'down' ? 'degraded' : 'ok';
    return { status, checks: redis === undefined ? { database } : { database, redis } };
  }
}

/** 'ok' when the check settles in time, 'down' when it fails or takes longer than READY_TIMEOUT_MS. */
async function answers(check: Promise<unknown>): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
