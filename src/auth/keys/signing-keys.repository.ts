import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, Repository } from 'typeorm';
import { SigningKeyEntity } from './signing-key.entity';

@Injectable()
export class SigningKeysRepository {
  constructor(
    @InjectRepository(SigningKeyEntity) private readonly keys: Repository<SigningKeyEntity>,
  ) {}

  /** The active key and every retired key still inside its publication window. */
  findPublished(now: Date): Promise<SigningKeyEntity[]> {
    return this.keys
      .createQueryBuilder('k')
      .where('k.publish_until IS NULL OR k.publish_until > :now', { now })
      .orderBy('k.created_at', 'DESC')
      .getMany();
  }

  insert(key: SigningKeyEntity): Promise<SigningKeyEntity> {
    return this.keys.save(key);
  }

  /**
   * Retires every active key older than `newest` (by creation, then kid); they stay published
   * until `publishUntil`. Only older ones: instances rotating at once (several starting on an
   * empty database) each retire the keys before their own, so the newest of them stays active
   * whatever order the statements run in, where "all but mine" could retire every one.
   */
  async retireOlderThan(
    newest: { kid: string; createdAt: Date },
    publishUntil: Date,
  ): Promise<void> {
    await this.keys
      .createQueryBuilder()
      .update()
      .set({ retiredAt: newest.createdAt, publishUntil })
      .where('retired_at IS NULL')
      .andWhere('(created_at < :createdAt OR (created_at = :createdAt AND kid < :kid))', {
        createdAt: newest.createdAt,
        kid: newest.kid,
      })
      .execute();
  }

  async removeUnpublishedBefore(now: Date): Promise<number> {
    const result = await this.keys.delete({ publishUntil: LessThan(now) });
    return result.affected ?? 0;
  }

  countActive(): Promise<number> {
    return this.keys.count({ where: { retiredAt: IsNull() } });
  }
}
