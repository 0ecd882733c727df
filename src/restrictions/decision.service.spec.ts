import type { AuditEvent, AuditSink } from '../audit/audit.port';
import type { Principal } from '../common/principal';
import { DomainError, Problems } from '../common/problem/domain-error';
import type { MetricsService } from '../metrics/metrics.service';
import { AccessAudit } from './access-audit';
import type { AccessPipeline, Decision } from './access-pipeline.service';
import { DECISION_POLICY, DecisionService, headerSafe } from './decision.service';
import { settled } from '../../test/support/maybe-promise';

const alice: Principal = {
  id: 'u1',
  username: 'alice',
  groups: ['staff', 'QA team'],
  authMethod: 'api-token',
  credentialId: 'tok-1',
  scopes: ['read', 'write'],
};
const RATE = { limit: 600, remaining: 598, reset: 40, windowSeconds: 60 };
const question = (headers: Record<string, string>) => ({
  headers: { 'user-agent': 'curl/8', ...headers },
  ip: '203.0.113.7',
  requestId: 'req-1',
});
const nginx = { 'x-original-method': 'get', 'x-original-uri': '/public/../rest/x?y=1' };

describe(DecisionService.name, () => {
  let judge: jest.Mock;
  let rows: AuditEvent[];
  let sut: DecisionService;

  beforeEach(() => {
    judge = jest.fn();
    rows = [];
    const audit = { record: (row: AuditEvent) => rows.push(row) } as unknown as AuditSink;
    const metrics = { decision: jest.fn() } as unknown as MetricsService;
    sut = new DecisionService(
      { judge } as unknown as AccessPipeline,
      audit,
      new AccessAudit(audit, metrics),
    );
  });

  it('judges the normalised original request with the decision policy and the given address', async () => {
    judge.mockResolvedValue({ principal: alice, rateLimit: null } satisfies Decision);
    await sut.decide(question(nginx));
    expect(judge).toHaveBeenCalledWith({
      method: 'GET',
      path: '/rest/x',
      otherPaths: undefined,
      request: {
        headers: expect.objectContaining(nginx),
        ip: '203.0.113.7',
        target: { method: 'GET', url: '/public/../rest/x?y=1' },
      },
      policy: DECISION_POLICY,
      allowNative: true,
    });
  });

  it('names the caller in headers the upstream can carry, with the rate limit, and records a 200', async () => {
    judge.mockResolvedValue({
      principal: { ...alice, username: '李雷', tenant: 'client-key' },
      rateLimit: RATE,
    } satisfies Decision);
    const verdict = await sut.decide(question(nginx));
    expect(verdict).toEqual({
      headers: {
        'RateLimit-Limit': '600',
        'RateLimit-Remaining': '598',
        'RateLimit-Reset': '40',
        'RateLimit-Policy': '600;w=60',
        'X-Warden-User': '%E6%9D%8E%E9%9B%B7',
        'X-Warden-Groups': 'staff,QA%20team',
        'X-Warden-Auth-Method': 'api-token',
        'X-Warden-Credential-Id': 'tok-1',
        'X-Warden-Tenant': 'client-key',
      },
      body: { decision: 'allow', user: '李雷', authMethod: 'api-token' },
    });
    expect(rows).toEqual([
      expect.objectContaining({
        event: 'decision.allowed',
        actor: '李雷',
        ip: '203.0.113.7',
        method: 'GET',
        path: '/rest/x',
        status: 200,
        userAgent: 'curl/8',
        requestId: 'req-1',
      }),
    ]);
  });

  it('names nobody for a request let through without credentials, or with the upstream’s own token', async () => {
    judge.mockResolvedValue({ principal: alice, rateLimit: null, openBecause: 'public' });
    await expect(sut.decide(question(nginx))).resolves.toEqual({
      headers: { 'X-Warden-Auth-Method': 'anonymous' },
      body: { decision: 'allow', authMethod: 'anonymous', reason: 'public' },
    });
    judge.mockResolvedValue({ principal: alice, rateLimit: null, openBecause: 'native_token' });
    await expect(sut.decide(question(nginx))).resolves.toEqual({
      headers: { 'X-Warden-Auth-Method': 'native' },
      body: { decision: 'allow', authMethod: 'native' },
    });
  });

  it('records a denial with its status and throws it on', async () => {
    const refusal = Problems.forbidden(
      'ip_not_allowed',
      'Requests from 203.0.113.7 are not allowed',
    );
    judge.mockRejectedValue(refusal);
    await expect(sut.decide(question(nginx))).rejects.toBe(refusal);
    expect(rows).toEqual([
      expect.objectContaining({
        event: 'decision.denied',
        ip: '203.0.113.7',
        status: 403,
        reason: 'ip_not_allowed',
      }),
    ]);
  });

  describe('answered from memory', () => {
    it('gives the verdict without a promise when the pipeline judges at once', async () => {
      judge.mockReturnValue({ principal: alice, rateLimit: RATE } satisfies Decision);
      const verdict = sut.decide(question(nginx));
      expect(verdict).not.toBeInstanceOf(Promise);
      judge.mockResolvedValue({ principal: alice, rateLimit: RATE } satisfies Decision);
      const later = sut.decide(question(nginx));
      expect(later).toBeInstanceOf(Promise);
      expect(await later).toEqual(verdict);
      expect(rows.map((row) => row.event)).toEqual(['decision.allowed', 'decision.allowed']);
    });

    it('throws a refusal judged at once, recording the same row as for a rejected one', async () => {
      const refusal = Problems.forbidden(
        'ip_not_allowed',
        'Requests from 203.0.113.7 are not allowed',
      );
      judge.mockImplementation(() => {
        throw refusal;
      });
      expect(() => sut.decide(question(nginx))).toThrow(refusal);
      judge.mockRejectedValue(refusal);
      await expect(sut.decide(question(nginx))).rejects.toBe(refusal);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toEqual(rows[1]);
    });
  });

  it('refuses a question without its original request before judging it, recording nothing', async () => {
    await expect(settled(() => sut.decide(question({})))).rejects.toBeInstanceOf(DomainError);
    expect(judge).not.toHaveBeenCalled();
    expect(rows).toEqual([]);
  });
});

describe('headerSafe', () => {
  it('keeps printable ASCII and percent-encodes the rest as UTF-8', () => {
    expect(headerSafe('alice@example.com')).toBe('alice@example.com');
    expect(headerSafe('李雷')).toBe('%E6%9D%8E%E9%9B%B7');
    expect(headerSafe('a b')).toBe('a%20b');
  });

  it('turns half a surrogate pair into U+FFFD instead of throwing', () => {
    expect(headerSafe('x\ud800y')).toBe('x%EF%BF%BDy');
    expect(headerSafe('\udfff')).toBe('%EF%BF%BD');
    // A whole pair is one character.
    expect(headerSafe('😀')).toBe('%F0%9F%98%80');
  });
});
