import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { IP, rateLimiterSpec, refusal } from '../../../test/support/rate-limiter';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { LOGIN_FAILURES, RateLimiterService } from './rate-limiter.service';

/** A fake Redis client: what the limiter reads of ioredis. */
function fakeRedis(status: 'ready' | 'connecting' = 'ready') {
  const listeners = new Map<string, (...args: unknown[]) => void>();
  return {
    status,
    listeners,
    on: jest.fn((event: string, listener: (...args: unknown[]) => void) => {
      listeners.set(event, listener);
    }),
    eval: jest.fn(),
    ping: jest.fn(async () => 'PONG'),
  };
}

/** A Redis-backed storage as the limiter tells it (its class), counting through `increment`. */
function redisStorage(redis: ReturnType<typeof fakeRedis>, increment: jest.Mock) {
  return Object.assign(Object.create(ThrottlerStorageRedisService.prototype), {
    redis,
    increment,
  }) as ThrottlerStorageRedisService;
}

describe(RateLimiterService.name, () => {
  const spec = rateLimiterSpec();
  const { over } = spec;
  let { metrics } = spec;
  beforeEach(() => ({ metrics } = spec));

  describe('shared storage that cannot be reached', () => {
    let increment: jest.Mock;
    let sut: RateLimiterService;
    beforeEach(() => {
      const shared = new MemoryThrottlerStorage();
      increment = jest.fn((...args: Parameters<ThrottlerStorage['increment']>) =>
        shared.increment(...args),
      );
      sut = over({ increment } as ThrottlerStorage);
    });

    it('counts in the shared storage while it answers, under the budget name', async () => {
      const counted = sut.consume('access:s1');
      expect(counted).toBeInstanceOf(Promise);
      await expect(counted).resolves.toMatchObject({ remaining: 2 });
      expect(increment).toHaveBeenCalledWith('access:s1', 60_000, 3, 60_000, 'api:3/60');
      expect(metrics.rateLimitShared.mock.calls).toEqual([[false], [true]]);
    });

    it('falls back to counting alone, with the limits still held, and reports it', async () => {
      increment.mockRejectedValue(new Error('ECONNREFUSED'));
      await expect(sut.consume('access:s1')).resolves.toMatchObject({ remaining: 2 });
      await expect(sut.consume('access:s1')).resolves.toMatchObject({ remaining: 1 });
      await expect(sut.consume('access:s1')).resolves.toMatchObject({ remaining: 0 });
      await expect(sut.consume('access:s1')).rejects.toMatchObject({ code: 'rate_limited' });
      expect(metrics.rateLimitShared.mock.calls).toEqual([[false], [false]]);
    });

    it('reports the shared counters back once the storage answers again', async () => {
      increment.mockRejectedValueOnce(new Error('ECONNREFUSED'));
      await sut.consume('access:s1');
      await sut.consume('access:s1');
      expect(metrics.rateLimitShared.mock.calls).toEqual([[false], [false], [true]]);
    });

    it('keeps the login windows on this instance when the failure cannot be shared', async () => {
      increment.mockRejectedValue(new Error('ECONNREFUSED'));
      for (let i = 0; i < LOGIN_FAILURES; i++) (await sut.beginLogin('alice', IP))(true);
      await jest.advanceTimersByTimeAsync(0);
      await expect(sut.beginLogin('alice', IP)).rejects.toMatchObject({
        code: 'login_rate_limited',
      });
    });
  });

  describe('Redis', () => {
    let redis: ReturnType<typeof fakeRedis>;
    let increment: jest.Mock;

    beforeEach(() => {
      redis = fakeRedis();
      increment = jest.fn(async () => ({
        totalHits: 1,
        timeToExpire: 60,
        isBlocked: false,
        timeToBlockExpire: 0,
      }));
    });

    it('shares the counters once the client is ready, and again after a reconnection', () => {
      redis = fakeRedis('connecting');
      over(redisStorage(redis, increment));
      expect(metrics.rateLimitShared.mock.calls).toEqual([[false]]);
      redis.listeners.get('ready')!();
      expect(metrics.rateLimitShared.mock.calls).toEqual([[false], [true]]);
      expect(redis.listeners.has('error')).toBe(true);
    });

    it('pings Redis for readiness', async () => {
      const sut = over(redisStorage(redis, increment));
      await expect(sut.pingSharedStorage()).resolves.toBe('PONG');
    });

    it('counts each password check among those under way on every instance', async () => {
      redis.eval.mockResolvedValue([1, 300_000]);
      const sut = over(redisStorage(redis, increment));
      const end = await sut.beginLogin('Alice', IP);
      expect(redis.eval).toHaveBeenCalledWith(
        expect.stringContaining('INCR'),
        1,
        `warden:login-checks:alice|${IP}`,
        300_000,
      );
      end(false);
      expect(redis.eval).toHaveBeenLastCalledWith(
        expect.stringContaining('DECR'),
        1,
        `warden:login-checks:alice|${IP}`,
      );
    });

    it('keeps the place of a failed check taken', async () => {
      redis.eval.mockResolvedValue([1, 300_000]);
      const sut = over(redisStorage(redis, increment));
      (await sut.beginLogin('alice', IP))(true);
      expect(redis.eval).toHaveBeenCalledTimes(1);
    });

    it('refuses a check beyond the budget of every instance together, giving its place back', async () => {
      redis.eval.mockResolvedValueOnce([LOGIN_FAILURES + 1, 120_000]).mockResolvedValue(0);
      const sut = over(redisStorage(redis, increment));
      const err = await refusal(() => sut.beginLogin('alice', IP));
      expect(err.code).toBe('login_rate_limited');
      expect(err.extras.headers).toEqual({ 'Retry-After': '120' });
      expect(redis.eval).toHaveBeenLastCalledWith(
        expect.stringContaining('DECR'),
        1,
        expect.any(String),
      );
      // The refused check is not left under way here: a full budget of checks may still run.
      redis.eval.mockResolvedValue([1, 300_000]);
      for (let i = 0; i < LOGIN_FAILURES; i++) await sut.beginLogin('alice', IP);
    });

    it('checks a password on the local count when Redis does not answer', async () => {
      redis.eval.mockRejectedValue(new Error('ECONNRESET'));
      const sut = over(redisStorage(redis, increment));
      const end = await sut.beginLogin('alice', IP);
      end(false);
      expect(redis.eval).toHaveBeenCalledTimes(1);
    });

    it('does not ask Redis about checks before it has been reached', async () => {
      redis = fakeRedis('connecting');
      const sut = over(redisStorage(redis, increment));
      (await sut.beginLogin('alice', IP))(false);
      expect(redis.eval).not.toHaveBeenCalled();
    });

    it('peeks at the fallback counters while Redis is away', async () => {
      increment.mockRejectedValue(new Error('ECONNREFUSED'));
      const sut = over(redisStorage(redis, increment));
      await sut.consume('access:s1');
      expect(await sut.peek('access:s1')).toMatchObject({ remaining: 1, wouldRefuse: false });
    });
  });
});
