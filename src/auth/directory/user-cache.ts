import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { BoundedCache } from '../../common/bounded-cache';
import { InvalidationBus } from '../../common/invalidation/invalidation-bus';
import { RefreshedView } from '../../common/invalidation/refreshed-view';
import { UserEntity } from './user.entity';
import { UsersRepository } from './users.repository';

export interface CachedUser {
  id: string;
  username: string;
  groups: string[];
  disabled: boolean;
}

const MAX_CACHED_USERS = 50_000;
/** How often other instances' directory changes are picked up; the bound on their propagation. */
export const DIRECTORY_POLL_MS = 1000;
/** Each poll re-reads this much before the newest change seen: commits land out of timestamp order. */
const POLL_OVERLAP_MS = 5000;

/**
 * The users behind tokens, kept in memory so that a request with a known token never waits on
 * the database. Changes made here are applied at once; changes made by another instance are
 * picked up by polling `updated_at`.
 */
@Injectable()
export class UserCache implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(UserCache.name);
  private readonly cache = new BoundedCache<string, CachedUser | null>(MAX_CACHED_USERS);
  private readonly view: RefreshedView;
  private since = new Date();

  constructor(
    private readonly users: UsersRepository,
    private readonly bus: InvalidationBus,
  ) {
    this.view = new RefreshedView({
      bus,
      channel: 'user-changed',
      pollMs: DIRECTORY_POLL_MS,
      refresh: () => this.poll(),
      // The message names the user: forgotten here, read again when next needed.
      onMessage: (id) => this.cache.delete(id),
      onError: (err) => this.logger.warn({ err }, 'Directory change poll failed; retrying'),
    });
  }

  onModuleInit(): void {
    this.view.start();
  }

  onModuleDestroy(): void {
    this.view.stop();
  }

  /** Synchronous look-up for the hot path; undefined means "not cached", null "no such user". */
  peek(id: string): CachedUser | null | undefined {
    return this.cache.get(id);
  }

  async get(id: string): Promise<CachedUser | null> {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    const user = await this.users.findById(id);
    const entry = user ? toCached(user) : null;
    this.cache.set(id, entry);
    return entry;
  }

  /** Forgets a changed user here and on the other instances. */
  invalidate(id: string): void {
    this.cache.delete(id);
    this.bus.publish('user-changed', id);
  }

  private async poll(): Promise<void> {
    const changed = await this.users.changedSince(new Date(this.since.getTime() - POLL_OVERLAP_MS));
    for (const { id, updatedAt } of changed) {
      this.cache.delete(id);
      if (updatedAt > this.since) this.since = updatedAt;
    }
  }
}

export function toCached(user: UserEntity): CachedUser {
  return {
    id: user.id,
    username: user.username,
    groups: (user.groups ?? []).map((g) => g.name).sort(),
    disabled: user.disabled,
  };
}
