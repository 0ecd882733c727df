import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, MoreThan, Repository } from 'typeorm';
import { ApiTokenEntity } from './api-token.entity';

@Injectable()
export class ApiTokensRepository {
  constructor(
    @InjectRepository(ApiTokenEntity) private readonly tokens: Repository<ApiTokenEntity>,
  ) {}

  insert(token: ApiTokenEntity): Promise<ApiTokenEntity> {
    return this.tokens.save(token);
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

  countLive(userId: string, now: Date): Promise<number> {
    return this.tokens.count({ where: { userId, revokedAt: IsNull(), expiresAt: MoreThan(now) } });
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
