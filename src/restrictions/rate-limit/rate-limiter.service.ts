import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { DomainError } from '../../common/problem/domain-error';
import { SettingsService } from '../settings.service';
import { MetricsService } from '../../metrics/metrics.service';
import { MemoryThrottlerStorage } from './memory-throttler.storage';

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  reset: number;
  windowSeconds: number;
}

/** Password guessing at /system/auth: this many failed attempts per username and address per window. */
export const LOGIN_FAILURES = 10;
export const LOGIN_WINDOW_SECONDS = 300;
const MAX_BLOCKED_LOGINS = 100_000;

/**
 * Per-credential request budgets (settings.rateLimit) and the stricter login budget, counted in
 * a ThrottlerStorage: process memory in the embedded shape, Redis when REDIS_URL is set so that
 * every instance draws on one budget.
 */
@Injectable()
export class RateLimiterService {
  private readonly logger = new Logger(RateLimiterService.name);
  private readonly blockedLogins = new Map<string, number>();

  /** Counts while the shared storage (Redis) cannot be reached: the limits hold per instance. */
  private readonly fallback = new MemoryThrottlerStorage();
  /**
   * Whether the counters are shared: not before Redis has answered once (an instance that never
   * reached it counts alone), and not while it cannot be reached. Memory storage never is.
   */
  private shared: 'not yet' | 'yes' | 'lost' = 'not yet';

  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly settings: SettingsService,
    private readonly metrics: MetricsService,
  ) {
    metrics.rateLimitShared(false);
    if (storage instanceof ThrottlerStorageRedisService) {
      // The client is ready once Redis has answered its first command: from then on, and again
      // after a reconnection, requests count there, even before the first one arrives.
      if (storage.redis.status === 'ready') this.sharedReached();
      storage.redis.on('ready', () => this.sharedReached());
      // Connection errors are the client's to retry and the counting's to report (sharedLost);
      // without a listener each one would also reach stderr as an unhandled error event.
      storage.redis.on('error', (err: Error) =>
        this.logger.debug(`Rate-limit storage (Redis): ${err.message}`),
      );
    }
  }

  /** For readiness: a PING to the shared storage; undefined when the counters are in memory. */
  pingSharedStorage(): Promise<unknown> | undefined {
    return this.storage instanceof ThrottlerStorageRedisService
      ? this.storage.redis.ping()
      : undefined;
  }

  /**
   * Counts one request for `key`; throws 429 when over the budget; null when limiting is off.
   * Answers synchronously when the counters are in memory, with a promise when they are in Redis.
   */
  consume(key: string): RateLimitState | null | Promise<RateLimitState | null> {
    const { enabled, requests, windowSeconds } = this.settings.get().rateLimit;
    if (!enabled) return null;
    const ttl = windowSeconds * 1000;
    if (this.storage instanceof MemoryThrottlerStorage) {
      return this.settle(
        this.storage.incrementNow(key, ttl, requests, ttl, 'api'),
        requests,
        windowSeconds,
      );
    }
    return this.count('api', key, requests, windowSeconds);
  }

  /** Refuses a login attempt for a username and address that failed too often lately. */
  assertLoginAllowed(username: string, ip: string): void {
    const key = loginKey(username, ip);
    const until = this.blockedLogins.get(key);
    if (until === undefined) return;
    const wait = Math.ceil((until - Date.now()) / 1000);
    if (wait <= 0) {
      this.blockedLogins.delete(key);
      return;
    }
    throw new DomainError(
      429,
      'login_rate_limited',
      'Too Many Requests',
      `Too many failed logins for this user from this address; retry in ${wait} s`,
      {
        headers: { 'Retry-After': String(wait) },
      },
    );
  }

  /**
   * Counts a failed login in the shared storage. Once over the budget the block is remembered
   * here, so later attempts are refused without a storage round trip (another instance learns
   * of the block at its first failure past the limit).
   */
  async recordLoginFailure(username: string, ip: string): Promise<void> {
    const key = loginKey(username, ip);
    const ttl = LOGIN_WINDOW_SECONDS * 1000;
    try {
      const record = await this.storage.increment(key, ttl, LOGIN_FAILURES, ttl, 'login-failures');
      if (this.shared !== 'yes' && !(this.storage instanceof MemoryThrottlerStorage))
        this.sharedReached();
      if (record.isBlocked) {
        if (this.blockedLogins.size >= MAX_BLOCKED_LOGINS)
          this.blockedLogins.delete(this.blockedLogins.keys().next().value!);
        this.blockedLogins.set(key, Date.now() + record.timeToBlockExpire * 1000);
      }
    } catch (err) {
      // Redis away: the failure is counted on this instance, so the login limit still holds.
      if (this.shared !== 'lost') this.sharedLost(err as Error);
      const record = this.fallback.incrementNow(key, ttl, LOGIN_FAILURES, ttl, 'login-failures');
      if (record.isBlocked)
        this.blockedLogins.set(key, Date.now() + record.timeToBlockExpire * 1000);
    }
  }

  private async count(
    name: string,
    key: string,
    limit: number,
    windowSeconds: number,
  ): Promise<RateLimitState> {
    const ttl = windowSeconds * 1000;
    let record: ThrottlerStorageRecord;
    try {
      record = await this.storage.increment(key, ttl, limit, ttl, name);
      if (this.shared !== 'yes') this.sharedReached();
    } catch (err) {
      // Redis cannot be reached: this instance counts on its own until it is back, so the limits
      // still hold (per instance) and no request fails for it.
      if (this.shared !== 'lost') this.sharedLost(err as Error);
      record = this.fallback.incrementNow(key, ttl, limit, ttl, name);
    }
    return this.settle(record, limit, windowSeconds);
  }

  private sharedLost(err: Error): void {
    this.shared = 'lost';
    this.metrics.rateLimitShared(false);
    this.logger.warn(
      { err: err.message },
      'Rate-limit storage (Redis) unreachable: counting per instance until it is back',
    );
  }

  private sharedReached(): void {
    if (this.shared === 'yes') return;
    const again = this.shared === 'lost';
    this.shared = 'yes';
    this.metrics.rateLimitShared(true);
    if (again) this.logger.log('Rate-limit storage (Redis) is back: counters are shared again');
  }

  /** The state a counted request leaves, or the 429 when it went over the budget. */
  private settle(
    record: ThrottlerStorageRecord,
    limit: number,
    windowSeconds: number,
  ): RateLimitState {
    const state = {
      limit,
      remaining: Math.max(0, limit - record.totalHits),
      reset: record.timeToExpire,
      windowSeconds,
    };
    if (record.isBlocked) {
      const retryAfter = Math.max(1, record.timeToBlockExpire);
      throw new DomainError(
        429,
        'rate_limited',
        'Too Many Requests',
        `Rate limit of ${limit} requests per ${windowSeconds} s exceeded; retry in ${retryAfter} s`,
        {
          headers: {
            ...rateLimitHeaders({ ...state, remaining: 0, reset: retryAfter }),
            'Retry-After': String(retryAfter),
          },
        },
      );
    }
    return state;
  }
}

function loginKey(username: string, ip: string): string {
  return `${username.toLowerCase()}|${ip}`;
}

/** IETF draft-ietf-httpapi-ratelimit-headers fields. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(state.remaining),
    'RateLimit-Reset': String(state.reset),
    'RateLimit-Policy': `${state.limit};w=${state.windowSeconds}`,
  };
}
