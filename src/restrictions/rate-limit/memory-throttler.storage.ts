import { OnModuleDestroy } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

/** Counters kept at most; beyond that the oldest windows are dropped (memory stays bounded). */
const MAX_KEYS = 200_000;
const SWEEP_MS = 30_000;

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
export class MemoryThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly windows = new Map<string, Window>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const now = this.now();
    const id = `${throttlerName}:${key}`;
    let window = this.windows.get(id);
    if (!window || (window.expiresAt <= now && window.blockedUntil <= now)) {
      if (!window && this.windows.size >= MAX_KEYS) this.dropOldest();
      window = { hits: 0, expiresAt: now + ttl, blockedUntil: 0 };
      this.windows.set(id, window);
    }
    window.hits++;
    if (window.blockedUntil <= now && window.hits > limit)
      window.blockedUntil = now + blockDuration;
    const blocked = window.blockedUntil > now;
    return {
      totalHits: window.hits,
      timeToExpire: Math.max(0, Math.ceil((window.expiresAt - now) / 1000)),
      isBlocked: blocked,
      timeToBlockExpire: blocked ? Math.ceil((window.blockedUntil - now) / 1000) : 0,
    };
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, w] of this.windows)
      if (w.expiresAt <= now && w.blockedUntil <= now) this.windows.delete(id);
  }

  private dropOldest(): void {
    const oldest = this.windows.keys().next();
    if (!oldest.done) this.windows.delete(oldest.value);
  }
}
