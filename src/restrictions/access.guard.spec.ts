import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AuditEvent, AuditSink } from '../audit/audit.port';
import { Problems } from '../common/problem/domain-error';
import type { MetricsService } from '../metrics/metrics.service';
import { AccessAudit } from './access-audit';
import { AccessGuard, GuardedRequest } from './access.guard';
import type { AccessPipeline, Decision } from './access-pipeline.service';
import type { RateLimiterService } from './rate-limit/rate-limiter.service';
import { principal } from '../../test/support/principal';
import { strict } from '../../test/support/strict-mock';
import { thrownBy } from '../../test/support/maybe-promise';

const STATE = { limit: 100, remaining: 99, reset: 60, windowSeconds: 60 };

describe(AccessGuard.name, () => {
  let judge: jest.Mock;
  let rows: AuditEvent[];
  let headers: jest.Mock;
  let request: GuardedRequest;
  let sut: AccessGuard;
  const context = () =>
    ({
      getHandler: () => context,
      getClass: () => AccessGuard,
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({ headers }) }),
    }) as unknown as ExecutionContext;

  beforeEach(() => {
    judge = jest.fn();
    rows = [];
    headers = jest.fn();
    request = {
      clientIp: '203.0.113.7',
      url: '/rest/api/2/issue/1?fields=x',
      method: 'GET',
      headers: { authorization: 'Bearer x.y.z' },
      id: 'req-1',
    } as unknown as GuardedRequest;
    const audit = { record: (row: AuditEvent) => rows.push(row) } as unknown as AuditSink;
    const metrics = { decision: jest.fn() } as unknown as MetricsService;
    sut = new AccessGuard(
      strict<Reflector>({ getAllAndOverride: jest.fn(() => ({ api: true })) }),
      strict<AccessPipeline>({ judge }),
      strict<RateLimiterService>({}),
      new AccessAudit(audit, metrics),
    );
  });

  it('lets a request judged from memory in with a plain boolean, as it does one judged later', async () => {
    const decision: Decision = { principal: principal(), rateLimit: STATE };
    judge.mockReturnValue(decision);
    expect(sut.canActivate(context())).toBe(true);
    const atOnce = request.pendingAudit;
    judge.mockResolvedValue(decision);
    const later = sut.canActivate(context());
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toBe(true);
    expect(request.pendingAudit).toEqual(atOnce);
    expect(request.principal).toEqual(principal());
    expect(headers).toHaveBeenCalledTimes(2);
    expect(judge).toHaveBeenLastCalledWith(
      expect.objectContaining({ path: '/rest/api/2/issue/1' }),
    );
  });

  it('throws a denial judged from memory, recording the row a rejected one records', async () => {
    const refusal = Problems.forbidden(
      'ip_not_allowed',
      'Requests from 203.0.113.7 are not allowed',
    );
    judge.mockImplementation(() => {
      throw refusal;
    });
    expect(thrownBy(() => sut.canActivate(context()))).toBe(refusal);
    judge.mockRejectedValue(refusal);
    await expect(sut.canActivate(context())).rejects.toBe(refusal);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual(rows[1]);
    expect(rows[0]).toMatchObject({ event: 'access.denied', status: 403 });
  });
});
