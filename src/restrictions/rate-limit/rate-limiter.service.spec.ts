import { ThrottlerStorage } from '@nestjs/throttler';
import { IP, NOW, rateLimiterSpec, refusal } from '../../../test/support/rate-limiter';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import {
  LOGIN_FAILURES,
  LOGIN_WINDOW_SECONDS,
  rateLimitHeaders,
  RateLimiterService,
  RateLimitState,
} from './rate-limiter.service';

describe(RateLimiterService.name, () => {
  const spec = rateLimiterSpec();
  const { changeBudget, over } = spec;
  let { metrics } = spec;
  beforeEach(() => ({ metrics } = spec));

  describe('request budgets in memory', () => {
    let sut: RateLimiterService;
    beforeEach(() => (sut = over(new MemoryThrottlerStorage())));

    it('counts nothing while rate limiting is off', () => {
      changeBudget({ enabled: false, requests: 1, windowSeconds: 60 });
      for (let i = 0; i < 5; i++) expect(sut.consume('access:s1')).toBeNull();
    });

    it('answers at once, counting down the budget of each key on its own', () => {
      const remaining = [1, 2, 3].map(() => (sut.consume('access:s1') as RateLimitState).remaining);
      expect(remaining).toEqual([2, 1, 0]);
      expect(sut.consume('access:s2')).toEqual({
        limit: 3,
        remaining: 2,
        reset: 60,
        windowSeconds: 60,
      });
    });

    it('refuses beyond the budget with 429 and the rate-limit headers', async () => {
      for (let i = 0; i < 3; i++) await sut.consume('access:s1');
      const err = await refusal(() => sut.consume('access:s1'));
      expect(err.status).toBe(429);
      expect(err.code).toBe('rate_limited');
      expect(err.extras.headers).toEqual({
        'RateLimit-Limit': '3',
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': '60',
        'RateLimit-Policy': '3;w=60',
        'Retry-After': '60',
      });
    });

    it('gives the budget back once the window has passed', async () => {
      for (let i = 0; i < 3; i++) await sut.consume('access:s1');
      jest.setSystemTime(NOW + 60_000);
      expect(sut.consume('access:s1')).toMatchObject({ remaining: 2 });
    });

    it('refuses for a whole window from the request that went over', async () => {
      for (let i = 0; i < 3; i++) await sut.consume('access:s1');
      jest.setSystemTime(NOW + 59_000);
      const err = await refusal(() => sut.consume('access:s1'));
      expect(err.extras.headers?.['Retry-After']).toBe('60');
      jest.setSystemTime(NOW + 118_000);
      await refusal(() => sut.consume('access:s1'));
      jest.setSystemTime(NOW + 119_000);
      expect(sut.consume('access:s1')).toMatchObject({ remaining: 2 });
    });

    it('starts new windows when the budget changes', async () => {
      for (let i = 0; i < 3; i++) await sut.consume('access:s1');
      await refusal(() => sut.consume('access:s1'));
      changeBudget({ enabled: true, requests: 5, windowSeconds: 60 });
      expect(sut.consume('access:s1')).toMatchObject({ limit: 5, remaining: 4 });
    });

    it('peeks at a budget without spending it', async () => {
      expect(await sut.peek('access:s1')).toEqual({
        limit: 3,
        remaining: 2,
        reset: 60,
        windowSeconds: 60,
        wouldRefuse: false,
      });
      await sut.consume('access:s1');
      await sut.consume('access:s1');
      await sut.peek('access:s1');
      expect(await sut.peek('access:s1')).toMatchObject({ remaining: 0, wouldRefuse: false });
      await sut.consume('access:s1');
      expect(await sut.peek('access:s1')).toMatchObject({ remaining: 0, wouldRefuse: true });
    });

    it('peeks at nothing while rate limiting is off', async () => {
      changeBudget({ enabled: false, requests: 3, windowSeconds: 60 });
      expect(await sut.peek('access:s1')).toBeNull();
    });

    it('has no shared storage to ping', () => {
      expect(sut.pingSharedStorage()).toBeUndefined();
      expect(metrics.rateLimitShared.mock.calls).toEqual([[false]]);
    });
  });

  describe('login windows', () => {
    let sut: RateLimiterService;
    beforeEach(() => (sut = over(new MemoryThrottlerStorage())));

    async function fail(username: string, ip = IP, times = 1): Promise<void> {
      for (let i = 0; i < times; i++) (await sut.beginLogin(username, ip))(true);
    }

    it(`refuses the password check after ${LOGIN_FAILURES} failures in the window`, async () => {
      await fail('alice', IP, LOGIN_FAILURES);
      const err = await refusal(() => sut.beginLogin('alice', IP));
      expect(err.status).toBe(429);
      expect(err.code).toBe('login_rate_limited');
      expect(err.extras.headers).toEqual({ 'Retry-After': String(LOGIN_WINDOW_SECONDS) });
    });

    it('does not count successful checks', async () => {
      for (let i = 0; i < 3 * LOGIN_FAILURES; i++) (await sut.beginLogin('alice', IP))(false);
      await expect(sut.beginLogin('alice', IP)).resolves.toEqual(expect.any(Function));
    });

    it('counts checks under way, so that parallel guesses cannot overrun the budget', async () => {
      const pending = [];
      for (let i = 0; i < LOGIN_FAILURES; i++) pending.push(await sut.beginLogin('alice', IP));
      await refusal(() => sut.beginLogin('alice', IP));
      for (const end of pending) end(false);
      await expect(sut.beginLogin('alice', IP)).resolves.toEqual(expect.any(Function));
    });

    it('ends a check once, however often it is ended', async () => {
      const end = await sut.beginLogin('alice', IP);
      for (let i = 0; i < LOGIN_FAILURES; i++) end(true);
      await fail('alice', IP, LOGIN_FAILURES - 1);
      await expect(sut.beginLogin('alice', IP)).rejects.toMatchObject({
        code: 'login_rate_limited',
      });
    });

    it('keeps one window per username (in any case) and address', async () => {
      await fail('Alice', IP, LOGIN_FAILURES);
      await refusal(() => sut.beginLogin('ALICE', IP));
      await expect(sut.beginLogin('alice', '198.51.100.1')).resolves.toEqual(expect.any(Function));
      await expect(sut.beginLogin('bob', IP)).resolves.toEqual(expect.any(Function));
    });

    it('tells how long is left of the window, and opens again once it has passed', async () => {
      await fail('alice', IP, LOGIN_FAILURES);
      jest.setSystemTime(NOW + 200_000);
      const err = await refusal(() => sut.beginLogin('alice', IP));
      expect(err.extras.headers).toEqual({ 'Retry-After': '100' });
      jest.setSystemTime(NOW + LOGIN_WINDOW_SECONDS * 1000);
      await expect(sut.beginLogin('alice', IP)).resolves.toEqual(expect.any(Function));
    });

    it('counts each failure in the storage, where other instances learn of it', async () => {
      const storage = new MemoryThrottlerStorage();
      const increment = jest.spyOn(storage, 'increment');
      sut = over(storage);
      await fail('Alice', IP, 2);
      expect(increment.mock.calls).toEqual([
        [`alice|${IP}`, 300_000, LOGIN_FAILURES, 300_000, 'login-failures'],
        [`alice|${IP}`, 300_000, LOGIN_FAILURES, 300_000, 'login-failures'],
      ]);
    });

    it('takes in failures another instance counted in the shared storage', async () => {
      const increment = jest.fn(async () => ({
        totalHits: LOGIN_FAILURES,
        timeToExpire: 250,
        isBlocked: false,
        timeToBlockExpire: 0,
      }));
      sut = over({ increment } as ThrottlerStorage);
      await fail('alice');
      await jest.advanceTimersByTimeAsync(0);
      await expect(sut.beginLogin('alice', IP)).rejects.toMatchObject({
        code: 'login_rate_limited',
      });
    });

    it('holds a block the shared storage reports past the end of the local window', async () => {
      const increment = jest.fn(async () => ({
        totalHits: LOGIN_FAILURES + 1,
        timeToExpire: 10,
        isBlocked: true,
        timeToBlockExpire: 600,
      }));
      sut = over({ increment } as ThrottlerStorage);
      await fail('alice');
      await jest.advanceTimersByTimeAsync(0);
      jest.setSystemTime(NOW + LOGIN_WINDOW_SECONDS * 1000 + 1000);
      const err = await refusal(() => sut.beginLogin('alice', IP));
      expect(err.extras.headers).toEqual({ 'Retry-After': '299' });
    });
  });

  describe('credentials refused from an address', () => {
    let sut: RateLimiterService;
    beforeEach(() => (sut = over(new MemoryThrottlerStorage())));

    it("spend the address's budget, then refuse its password checks until it refills", async () => {
      for (let i = 0; i < 3; i++) await sut.countRefused(IP);
      expect(() => sut.assertPasswordChecksAllowed(IP)).not.toThrow();
      const err = await refusal(() => sut.countRefused(IP));
      expect(err.code).toBe('rate_limited');
      const blocked = await refusal(() => sut.assertPasswordChecksAllowed(IP));
      expect(blocked.status).toBe(429);
      expect(blocked.extras.headers).toEqual({ 'Retry-After': '60' });
      expect(() => sut.assertPasswordChecksAllowed('198.51.100.1')).not.toThrow();
      jest.setSystemTime(NOW + 60_000);
      expect(() => sut.assertPasswordChecksAllowed(IP)).not.toThrow();
    });

    it('draw on the budget anonymous requests from the address spend', async () => {
      for (let i = 0; i < 3; i++) await sut.consume(`ip:${IP}`);
      await refusal(() => sut.countRefused(IP));
    });

    it('are forgotten when the budget changes', async () => {
      for (let i = 0; i < 4; i++) await sut.countRefused(IP).catch(() => undefined);
      await refusal(() => sut.assertPasswordChecksAllowed(IP));
      changeBudget({ enabled: true, requests: 10, windowSeconds: 60 });
      await sut.consume('access:s1');
      expect(() => sut.assertPasswordChecksAllowed(IP)).not.toThrow();
    });
  });
});

describe(rateLimitHeaders.name, () => {
  it('names the limit, what is left, the reset and the policy', () => {
    expect(rateLimitHeaders({ limit: 10, remaining: 4, reset: 30, windowSeconds: 60 })).toEqual({
      'RateLimit-Limit': '10',
      'RateLimit-Remaining': '4',
      'RateLimit-Reset': '30',
      'RateLimit-Policy': '10;w=60',
    });
  });
});
