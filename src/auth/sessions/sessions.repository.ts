import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, MoreThan, Repository } from 'typeorm';
import { RefreshSessionEntity } from './refresh-session.entity';

export interface Rotation {
  newJtiHash: string;
  successorSealed: string | null;
  at: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
}

@Injectable()
export class SessionsRepository {
  constructor(
    @InjectRepository(RefreshSessionEntity)
    private readonly sessions: Repository<RefreshSessionEntity>,
  ) {}

  insert(session: RefreshSessionEntity): Promise<RefreshSessionEntity> {
    return this.sessions.save(session);
  }

  findById(id: string): Promise<RefreshSessionEntity | null> {
    return this.sessions.findOne({ where: { id } });
  }

  /**
   * Compare-and-set rotation: only the request that still sees `expectedJtiHash` as current
   * advances the family, so two racing refreshes cannot both mint a successor.
   */
  async rotate(id: string, expectedJtiHash: string, rotation: Rotation): Promise<boolean> {
    const result = await this.sessions
      .createQueryBuilder()
      .update()
      .set({
        generation: () => 'generation + 1',
        previousJtiHash: expectedJtiHash,
        currentJtiHash: rotation.newJtiHash,
        successorSealed: rotation.successorSealed,
        rotatedAt: rotation.at,
        lastUsedAt: rotation.at,
        expiresAt: rotation.expiresAt,
        ip: rotation.ip,
        userAgent: rotation.userAgent,
      })
      .where('id = :id AND current_jti_hash = :expectedJtiHash AND revoked_at IS NULL', {
        id,
        expectedJtiHash,
      })
      .execute();
    return (result.affected ?? 0) === 1;
  }

  async touch(id: string, at: Date, ip: string | null, userAgent: string | null): Promise<void> {
    await this.sessions.update({ id }, { lastUsedAt: at, ip, userAgent });
  }

  async revoke(id: string, reason: string, at: Date): Promise<boolean> {
    const result = await this.sessions.update(
      { id, revokedAt: IsNull() },
      { revokedAt: at, revokedReason: reason, successorSealed: null },
    );
    return (result.affected ?? 0) > 0;
  }

  /** Revokes every live session of a user and returns their ids. */
  async revokeAllForUser(userId: string, reason: string, at: Date): Promise<string[]> {
    const live = await this.sessions.find({
      select: { id: true },
      where: { userId, revokedAt: IsNull() },
    });
    if (live.length === 0) return [];
    await this.sessions.update(
      { userId, revokedAt: IsNull() },
      { revokedAt: at, revokedReason: reason, successorSealed: null },
    );
    return live.map((s) => s.id);
  }

  listLive(userId: string, now: Date): Promise<RefreshSessionEntity[]> {
    return this.sessions.find({
      where: { userId, revokedAt: IsNull(), expiresAt: MoreThan(now) },
      order: { lastUsedAt: 'DESC' },
    });
  }

  revokedSince(since: Date): Promise<{ id: string; revokedAt: Date | null }[]> {
    return this.sessions.find({
      select: { id: true, revokedAt: true },
      where: { revokedAt: MoreThan(since) },
    });
  }
}
