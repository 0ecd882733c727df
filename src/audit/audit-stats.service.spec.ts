import { DomainError } from '../common/problem/domain-error';
import { strict } from '../../test/support/strict-mock';
import { AuditStatsService, BUCKET_MS, MAX_BUCKETS } from './audit-stats.service';
import { AuditRepository } from './audit.repository';

const T = Date.parse('2026-12-01T09:00:00Z');
const MINUTE = BUCKET_MS.minute;
const HOUR = BUCKET_MS.hour;

type Row = { bucket: number; outcome: string; reason: string | null; count: number };

describe(AuditStatsService.name, () => {
  let repository: { countByBucket: jest.Mock; topActors: jest.Mock };
  let sut: AuditStatsService;

  beforeEach(() => {
    repository = { countByBucket: jest.fn(async (): Promise<Row[]> => []), topActors: jest.fn() };
    sut = new AuditStatsService(strict<AuditRepository>(repository));
  });

  it('has a bucket for every step of the range, empty ones included, aligned to the bucket size', async () => {
    const stats = await sut.stats({
      from: new Date(T + 30_000),
      to: new Date(T + 3 * MINUTE),
      bucket: 'minute',
    });
    expect(stats.buckets.map((b) => b.at)).toEqual([
      new Date(T).toISOString(),
      new Date(T + MINUTE).toISOString(),
      new Date(T + 2 * MINUTE).toISOString(),
    ]);
    expect(stats.buckets[0]).toEqual({
      at: new Date(T).toISOString(),
      allowed: 0,
      denied: 0,
      rateLimited: 0,
      failed: 0,
      other: 0,
    });
    expect(repository.countByBucket).toHaveBeenCalledWith(
      new Date(T + 30_000),
      new Date(T + 3 * MINUTE),
      MINUTE,
      undefined,
    );
    expect(stats).toMatchObject({
      from: new Date(T + 30_000).toISOString(),
      to: new Date(T + 3 * MINUTE).toISOString(),
      bucket: 'minute',
      actor: null,
    });
  });

  it('counts each outcome in its series, the rate limits on their own', async () => {
    repository.countByBucket.mockResolvedValue([
      { bucket: T, outcome: 'allowed', reason: null, count: 5 },
      { bucket: T, outcome: 'denied', reason: 'ip_not_allowed', count: 2 },
      { bucket: T, outcome: 'denied', reason: 'rate_limited', count: 3 },
      { bucket: T + HOUR, outcome: 'denied', reason: 'login_rate_limited', count: 1 },
      { bucket: T + HOUR, outcome: 'failure', reason: 'invalid_credentials', count: 4 },
      { bucket: T + HOUR, outcome: 'success', reason: null, count: 6 },
    ]);
    const stats = await sut.stats({
      from: new Date(T),
      to: new Date(T + 2 * HOUR),
      bucket: 'hour',
    });
    expect(stats.buckets).toEqual([
      { at: new Date(T).toISOString(), allowed: 5, denied: 2, rateLimited: 3, failed: 0, other: 0 },
      {
        at: new Date(T + HOUR).toISOString(),
        allowed: 0,
        denied: 0,
        rateLimited: 1,
        failed: 4,
        other: 6,
      },
    ]);
    expect(stats.totals).toEqual({ allowed: 5, denied: 2, rateLimited: 4, failed: 4, other: 6 });
  });

  it('ranks the reasons of denials and failures, most frequent first, ties by name', async () => {
    const rows: Row[] = [
      { bucket: T, outcome: 'allowed', reason: 'public', count: 100 },
      { bucket: T, outcome: 'success', reason: 'manual', count: 100 },
      { bucket: T, outcome: 'denied', reason: 'b', count: 5 },
      { bucket: T, outcome: 'denied', reason: 'a', count: 5 },
      { bucket: T + MINUTE, outcome: 'denied', reason: 'b', count: 1 },
      { bucket: T, outcome: 'failure', reason: 'c', count: 2 },
      ...Array.from({ length: 12 }, (_, i) => ({
        bucket: T,
        outcome: 'denied',
        reason: `z${i}`,
        count: 1,
      })),
    ];
    repository.countByBucket.mockResolvedValue(rows);
    const { topReasons } = await sut.stats({
      from: new Date(T),
      to: new Date(T + 2 * MINUTE),
      bucket: 'minute',
    });
    expect(topReasons).toHaveLength(10);
    expect(topReasons.slice(0, 4)).toEqual([
      { reason: 'b', count: 6 },
      { reason: 'a', count: 5 },
      { reason: 'c', count: 2 },
      { reason: 'z0', count: 1 },
    ]);
  });

  it("counts a row outside the range's buckets in the totals only", async () => {
    repository.countByBucket.mockResolvedValue([
      { bucket: T - MINUTE, outcome: 'allowed', reason: null, count: 7 },
    ]);
    const stats = await sut.stats({
      from: new Date(T),
      to: new Date(T + MINUTE),
      bucket: 'minute',
    });
    expect(stats.buckets.map((b) => b.allowed)).toEqual([0]);
    expect(stats.totals.allowed).toBe(7);
  });

  it.each([
    ['minute', 3_600_000],
    ['hour', 86_400_000],
    ['day', 7 * 86_400_000],
  ] as const)(
    'covers by default the span that suits a %s bucket, up to now',
    async (bucket, span) => {
      const to = new Date(T);
      await sut.stats({ to, bucket, actor: 'alice' });
      expect(repository.countByBucket).toHaveBeenCalledWith(
        new Date(T - span),
        to,
        BUCKET_MS[bucket],
        'alice',
      );
    },
  );

  it(`refuses a range of more than ${MAX_BUCKETS} buckets, and takes one of exactly as many`, async () => {
    const from = new Date(T);
    await expect(
      sut.stats({ from, to: new Date(T + MAX_BUCKETS * MINUTE), bucket: 'minute' }),
    ).resolves.toBeDefined();
    const err = await sut
      .stats({ from, to: new Date(T + MAX_BUCKETS * MINUTE + 1), bucket: 'minute' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(JSON.stringify((err as DomainError).extras.fields)).toContain('use a larger bucket');
  });

  it('refuses a range that ends before it starts', async () => {
    for (const to of [new Date(T), new Date(T - 1)]) {
      await expect(sut.stats({ from: new Date(T), to, bucket: 'hour' })).rejects.toMatchObject({
        code: 'validation_failed',
      });
    }
    expect(repository.countByBucket).not.toHaveBeenCalled();
  });

  it('asks for the ten busiest callers of the range', async () => {
    repository.topActors.mockResolvedValue([{ actor: 'alice', count: 3 }]);
    const from = new Date(T - HOUR);
    const to = new Date(T);
    await expect(sut.topCallers({ from, to })).resolves.toEqual([{ actor: 'alice', count: 3 }]);
    expect(repository.topActors).toHaveBeenCalledWith(from, to, 10);
    await sut.topCallers({ to });
    expect(repository.topActors).toHaveBeenLastCalledWith(new Date(T - HOUR), to, 10);
  });

  it('names the field of a bad range as the other validation_failed problems do', async () => {
    const err = await sut
      .stats({ from: new Date(T), to: new Date(T - MINUTE), bucket: 'minute' })
      .catch((e: unknown) => e);
    expect((err as DomainError).code).toBe('validation_failed');
    expect((err as DomainError).extras.fields).toEqual({
      errors: [{ field: 'from', messages: ['from must be before to'] }],
    });
  });
});
