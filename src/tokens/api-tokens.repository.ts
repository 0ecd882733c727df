import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, MoreThan, Repository } from 'typeorm';
import { KeyedSerializer } from '../common/keyed-serializer';
import { ApiTokenEntity } from './api-token.entity';

/**
 * PostgreSQL: the first key of the transaction lock that makes one user's token creations take
 * turns across instances (the second is the user id's hash). Two-key advisory locks are a key
 * space of their own, apart from the jobs' and the migrations' single-key ones.
 */
const TOKEN_CREATION_LOCK = 0x746f6b6e; // "tokn"

@Injectable()
export class ApiTokensRepository {
  constructor(
    @InjectRepository(ApiTokenEntity) private readonly tokens: Repository<ApiTokenEntity>,
  ) {}

  /** One user's token creations at a time in this process (SQLite's one connection). */
  private readonly creations = new KeyedSerializer();

  /**
   * Inserts the token unless its user has `max` live ones already (false then). Counting and
   * inserting are one step per user, here and across PostgreSQL instances: creations sent at
   * once cannot all pass the count.
   */
  insertWithinLimit(token: ApiTokenEntity, max: number, now: Date): Promise<boolean> {
    return this.creations.run(token.userId, () =>
      this.tokens.manager.transaction(async (manager) => {
        if (manager.connection.options.type === 'postgres') {
          await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
            TOKEN_CREATION_LOCK,
            token.userId,
          ]);
        }
        const repository = manager.getRepository(ApiTokenEntity);
        const live = await repository.count({
          where: { userId: token.userId, revokedAt: IsNull(), expiresAt: MoreThan(now) },
        });
        if (live >= max) return false;
        await repository.save(token);
        return true;
      }),
    );
  }

  findByHash(tokenHash: string): Promise<ApiTokenEntity | null> {
    return this.tokens.findOne({ where: { tokenHash } });
  }

  findForUser(userId: string, id: string): Promise<ApiTokenEntity | null> {
    return this.tokens.findOne({ where: { id, userId } });
  }

  listForUser(userId: string): Promise<ApiTokenEntity[]> {
    return this.tokens.find({ where: { userId }, order: { createdAt: 'DESC' } });
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    const result = await this.tokens.update({ id, revokedAt: IsNull() }, { revokedAt: at });
    return (result.affected ?? 0) > 0;
  }

  /** Revokes every live token of a user; returns their ids. */
  async revokeAllForUser(userId: string, at: Date): Promise<string[]> {
    const live = await this.tokens.find({
      select: { id: true },
      where: { userId, revokedAt: IsNull() },
    });
    if (live.length > 0)
      await this.tokens.update({ userId, revokedAt: IsNull() }, { revokedAt: at });
    return live.map((t) => t.id);
  }

  async recordUse(id: string, at: Date, ip: string): Promise<void> {
    await this.tokens.update({ id }, { lastUsedAt: at, lastUsedIp: ip });
  }

  revokedSince(since: Date): Promise<{ id: string; revokedAt: Date | null }[]> {
    return this.tokens.find({
      select: { id: true, revokedAt: true },
      where: { revokedAt: MoreThan(since) },
    });
  }

  /** Deletes tokens expired before `expiredBefore` and tokens revoked before `revokedBefore`. */
  async removeStale(expiredBefore: Date, revokedBefore: Date): Promise<number> {
    const expired = await this.tokens.delete({ expiresAt: LessThan(expiredBefore) });
    const revoked = await this.tokens.delete({ revokedAt: LessThan(revokedBefore) });
    return (expired.affected ?? 0) + (revoked.affected ?? 0);
  }
}
