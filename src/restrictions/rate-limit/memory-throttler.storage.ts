import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { BoundedCache } from '../../common/bounded-cache';

/** Counters kept at most; beyond that the least recently used windows go (memory stays bounded). */
const MAX_KEYS = 200_000;

interface Window {
  hits: number;
  expiresAt: number;
  blockedUntil: number;
}

/**
 * Fixed-window counters in process memory, for the embedded shape. @nestjs/throttler's own
 * in-memory storage keeps one timestamp per hit and filters them on every request, which costs
 * O(limit) per request; a counter per window costs O(1) whatever the limit.
 */
export class MemoryThrottlerStorage implements ThrottlerStorage {
  private readonly windows = new BoundedCache<string, Window>(MAX_KEYS);
  /** The longest ttl or block duration asked for so far (ms). */
  private longestLifetime = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    return this.incrementNow(key, ttl, limit, blockDuration, throttlerName);
  }

  /** The same, synchronously: memory needs no round trip, so the request path need not wait a turn. */
  incrementNow(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): ThrottlerStorageRecord {
    const now = this.now();
    // No window outlives the longest ttl or block seen: the cache may drop generations that old,
    // so that windows of callers gone quiet do not stay until pushed out by MAX_KEYS newer ones.
    const lifetime = Math.max(ttl, blockDuration);
    if (lifetime > this.longestLifetime) {
      this.longestLifetime = lifetime;
      this.windows.maxGenerationAgeMs = lifetime;
    }
    const id = `${throttlerName}:${key}`;
    let window = this.windows.get(id, now);
    if (!window) {
      window = { hits: 0, expiresAt: now + ttl, blockedUntil: 0 };
      this.windows.set(id, window, window.expiresAt, now);
    }
    window.hits++;
    if (window.blockedUntil <= now && window.hits > limit) {
      window.blockedUntil = now + blockDuration;
      // The window lives on while it blocks.
      this.windows.set(id, window, Math.max(window.expiresAt, window.blockedUntil), now);
    }
    const blocked = window.blockedUntil > now;
    return {
      totalHits: window.hits,
      timeToExpire: Math.max(0, Math.ceil((window.expiresAt - now) / 1000)),
      isBlocked: blocked,
      timeToBlockExpire: blocked ? Math.ceil((window.blockedUntil - now) / 1000) : 0,
    };
  }

  /**
   * The window of `key` as it stands, counting nothing (the decision explainer's dry run): null
   * when the key has no live window, i.e. its next request starts a fresh one.
   */
  peek(key: string, throttlerName: string): ThrottlerStorageRecord | null {
    const now = this.now();
    const window = this.windows.get(`${throttlerName}:${key}`, now);
    if (!window || (window.expiresAt <= now && window.blockedUntil <= now)) return null;
    const blocked = window.blockedUntil > now;
    return {
      totalHits: window.hits,
      timeToExpire: Math.max(0, Math.ceil((window.expiresAt - now) / 1000)),
      isBlocked: blocked,
      timeToBlockExpire: blocked ? Math.ceil((window.blockedUntil - now) / 1000) : 0,
    };
  }

  /** Windows held (live or not yet let go of). */
  get size(): number {
    return this.windows.size;
  }
}
