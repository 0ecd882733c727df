import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { BoundedCache } from '../../common/bounded-cache';
import type { MaybePromise } from '../../common/maybe-promise';
import { DomainError } from '../../common/problem/domain-error';
import { Settings } from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { MetricsService } from '../../metrics/metrics.service';
import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { endLoginCheck, peekRedis, startLoginCheck } from './redis-counters';

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  reset: number;
  windowSeconds: number;
}

/** Password guessing: this many failed password checks per username and address per window. */
export const LOGIN_FAILURES = 10;
export const LOGIN_WINDOW_SECONDS = 300;
const MAX_BLOCKED_LOGINS = 100_000;
const LOGIN_WINDOW_MS = LOGIN_WINDOW_SECONDS * 1000;
/** Ends a password check begun with beginLogin, with its outcome (once; later calls are ignored). */
export type LoginAttempt = (failed: boolean) => void;

/** This instance's view of one username and address: failures in the window, checks under way. */
interface LoginWindow {
  failures: number;
  resetAt: number;
  inFlight: number;
  /** Set when the shared storage reports a block (failures counted on other instances too). */
  blockedUntil: number;
}

/**
 * Per-credential request budgets (settings.rateLimit) and the stricter login budget, counted in
 * a ThrottlerStorage: process memory in the embedded shape, Redis when REDIS_URL is set so that
 * every instance draws on one budget.
 */
@Injectable()
export class RateLimiterService {
  private readonly logger = new Logger(RateLimiterService.name);
  /** Login windows by username and address (see beginLogin); bounded, each for its window. */
  private readonly logins = new BoundedCache<string, LoginWindow>(MAX_BLOCKED_LOGINS);
  /** Addresses whose budget refused credentials spent, until when (see countRefused). */
  private readonly refusing = new BoundedCache<string, number>(MAX_BLOCKED_LOGINS);

  /** Counts while the shared storage (Redis) cannot be reached: the limits hold per instance. */
  private readonly fallback = new MemoryThrottlerStorage();
  /**
   * Whether the counters are shared: not before Redis has answered once (an instance that never
   * reached it counts alone), and not while it cannot be reached. Memory storage never is.
   */
  private shared: 'not yet' | 'yes' | 'lost' = 'not yet';
  /** The budget last counted against, and its counters' name (see budgetName). */
  private budget: Settings['rateLimit'] | undefined;
  private name = '';

  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly settings: SettingsService,
    private readonly metrics: MetricsService,
  ) {
    metrics.rateLimitShared(false);
    // A window lives LOGIN_WINDOW_MS, a block learned from the storage as long again at most.
    this.logins.maxGenerationAgeMs = 2 * LOGIN_WINDOW_MS;
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
  consume(key: string): MaybePromise<RateLimitState | null> {
    const budget = this.settings.get().rateLimit;
    if (!budget.enabled) return null;
    const { requests, windowSeconds } = budget;
    const name = this.budgetName(budget);
    const ttl = windowSeconds * 1000;
    if (this.storage instanceof MemoryThrottlerStorage) {
      return this.settle(
        this.storage.incrementNow(key, ttl, requests, ttl, name),
        requests,
        windowSeconds,
      );
    }
    return this.count(name, key, requests, windowSeconds);
  }

  /**
   * What counting one request for `key` would answer, counting nothing: the decision
   * explainer's dry run, which must not spend the caller's budget. `wouldRefuse` when that
   * request would get a 429; null when limiting is off.
   */
  async peek(key: string): Promise<(RateLimitState & { wouldRefuse: boolean }) | null> {
    const budget = this.settings.get().rateLimit;
    if (!budget.enabled) return null;
    const { requests, windowSeconds } = budget;
    const name = this.budgetName(budget);
    let record: ThrottlerStorageRecord | null = null;
    if (this.storage instanceof MemoryThrottlerStorage) record = this.storage.peek(key, name);
    else if (this.storage instanceof ThrottlerStorageRedisService && this.shared !== 'lost') {
      try {
        record = await peekRedis(this.storage, key, name);
      } catch {
        record = this.fallback.peek(key, name);
      }
    } else record = this.fallback.peek(key, name);
    const hits = record?.totalHits ?? 0;
    return {
      limit: requests,
      remaining: Math.max(0, requests - hits - 1),
      reset: record?.timeToExpire ?? windowSeconds,
      windowSeconds,
      wouldRefuse: (record?.isBlocked ?? false) || hits + 1 > requests,
    };
  }

  /**
   * The counters' name for a budget: each budget counts in windows of its own, so a change of
   * `rateLimit` starts new windows on every instance at once. Kept, a window begun under the old
   * budget would go on refusing callers the new one allows, for as long as the old window (not
   * the new) had left to run.
   */
  private budgetName(budget: Settings['rateLimit']): string {
    if (budget !== this.budget) {
      this.budget = budget;
      const name = `api:${budget.requests}/${budget.windowSeconds}`;
      if (name !== this.name) {
        this.name = name;
        this.refusing.clear();
      }
    }
    return this.name;
  }

  /**
   * Starts a password check for `username` from `ip`, wherever a password is checked (sign-in,
   * Basic on any route, the decision endpoint). Refused with 429 before the password is looked
   * at once the failures counted in the window, plus the checks still under way, reach
   * LOGIN_FAILURES: parallel guesses cannot overrun the budget, and the right password is
   * refused too while it is spent. With Redis the checks under way on every instance count too
   * (LOGIN_CHECKS_PREFIX). The returned function ends the check; a failure is counted here at
   * once and in the shared storage, where the other instances learn of it.
   */
  async beginLogin(username: string, ip: string): Promise<LoginAttempt> {
    const key = loginKey(username.slice(0, 255), ip);
    const now = Date.now();
    let window = this.logins.get(key, now);
    if (window === undefined) {
      window = { failures: 0, resetAt: now + LOGIN_WINDOW_MS, inFlight: 0, blockedUntil: 0 };
      this.logins.set(key, window, now + LOGIN_WINDOW_MS);
    }
    if (window.blockedUntil > now) throw loginRefused(window.blockedUntil - now);
    if (window.resetAt <= now) {
      window.failures = 0;
      window.resetAt = now + LOGIN_WINDOW_MS;
    }
    if (window.failures + window.inFlight >= LOGIN_FAILURES)
      throw loginRefused(window.resetAt - now);
    window.inFlight++;
    // Kept (and kept alive) for the window's whole length, however it ends.
    this.logins.set(key, window, window.resetAt);
    const counted = window;
    const shared = await this.startSharedCheck(key, counted);
    let ended = false;
    return (failed) => {
      if (ended) return;
      ended = true;
      counted.inFlight--;
      if (!failed) {
        shared?.giveBack();
        return;
      }
      counted.failures++;
      void this.recordLoginFailure(key, counted);
    };
  }

  /**
   * Counts the check in Redis among those started on every instance; refuses it (429) when that
   * makes more than LOGIN_FAILURES. Null when the counters are not shared (memory, Redis not
   * reached or away: this instance's own count keeps the limit).
   */
  private async startSharedCheck(
    key: string,
    window: LoginWindow,
  ): Promise<{ giveBack: () => void } | null> {
    if (this.shared !== 'yes' || !(this.storage instanceof ThrottlerStorageRedisService))
      return null;
    const redis = this.storage.redis;
    const giveBack = () => void endLoginCheck(redis, key).catch(() => undefined);
    let started: [number, number];
    try {
      started = await startLoginCheck(redis, key, LOGIN_WINDOW_MS);
    } catch {
      return null;
    }
    const [count, leftMs] = started;
    if (count > LOGIN_FAILURES) {
      giveBack();
      window.inFlight--;
      throw loginRefused(leftMs > 0 ? leftMs : LOGIN_WINDOW_MS);
    }
    return { giveBack };
  }

  /**
   * A request whose credentials were refused has no credential to be counted by: it is counted
   * against its address's budget (`ip:…`, the one anonymous requests draw on). Throws the 429
   * once that is spent, and from then until it refills, password checks from the address are
   * refused before the password is looked at (assertPasswordChecksAllowed).
   */
  async countRefused(ip: string): Promise<void> {
    try {
      const counted = this.consume(`ip:${ip}`);
      if (counted instanceof Promise) await counted;
    } catch (err) {
      if (err instanceof DomainError && err.status === 429) {
        const wait = Number(err.extras.headers?.['Retry-After']) || 1;
        const until = Date.now() + wait * 1000;
        this.refusing.set(ip, until, until);
      }
      throw err;
    }
  }

  /** A 429 while the address's budget is spent on refused credentials (see countRefused). */
  assertPasswordChecksAllowed(ip: string): void {
    const until = this.refusing.get(ip);
    if (until === undefined) return;
    const wait = Math.max(1, Math.ceil((until - Date.now()) / 1000));
    throw new DomainError(
      429,
      'rate_limited',
      'Too Many Requests',
      `Too many refused credentials from this address; retry in ${wait} s`,
      { headers: { 'Retry-After': String(wait) } },
    );
  }

  /**
   * Counts a failure in the shared storage; what it answers (failures from every instance, a
   * block) is taken into this instance's view.
   */
  private async recordLoginFailure(key: string, window: LoginWindow): Promise<void> {
    const ttl = LOGIN_WINDOW_MS;
    let record: ThrottlerStorageRecord;
    try {
      record = await this.storage.increment(key, ttl, LOGIN_FAILURES, ttl, 'login-failures');
      if (this.shared !== 'yes' && !(this.storage instanceof MemoryThrottlerStorage))
        this.sharedReached();
    } catch (err) {
      // Redis away: this instance's own count (above) keeps the limit.
      if (this.shared !== 'lost') this.sharedLost(err as Error);
      return;
    }
    window.failures = Math.max(window.failures, record.totalHits);
    if (record.isBlocked) {
      window.blockedUntil = Math.max(
        window.blockedUntil,
        Date.now() + record.timeToBlockExpire * 1000,
      );
      this.logins.set(key, window, Math.max(window.resetAt, window.blockedUntil));
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

function loginRefused(waitMs: number): DomainError {
  const wait = Math.max(1, Math.ceil(waitMs / 1000));
  return new DomainError(
    429,
    'login_rate_limited',
    'Too Many Requests',
    `Too many failed logins for this user from this address; retry in ${wait} s`,
    { headers: { 'Retry-After': String(wait) } },
  );
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
