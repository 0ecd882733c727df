import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, LessThan, Repository } from 'typeorm';
import { SigningKeyEntity } from './signing-key.entity';

@Injectable()
export class SigningKeysRepository {
  constructor(
    @InjectRepository(SigningKeyEntity) private readonly keys: Repository<SigningKeyEntity>,
  ) {}

  /**
   * Every key in the JWKS at `now`: the next one, the active one and every retired key still
   * inside its publication window; in the order they sign (activation, then kid).
   */
  findPublished(now: Date): Promise<SigningKeyEntity[]> {
    return this.keys
      .createQueryBuilder('k')
      .where('k.publish_until IS NULL OR k.publish_until > :now', { now })
      .orderBy('k.activates_at', 'ASC')
      .addOrderBy('k.kid', 'ASC')
      .getMany();
  }

  /** The key that signs last: the pending one when there is one, else the active one. */
  findLatest(): Promise<SigningKeyEntity | null> {
    return this.keys
      .createQueryBuilder('k')
      .orderBy('k.activates_at', 'DESC')
      .addOrderBy('k.kid', 'DESC')
      .getOne();
  }

  insert(key: SigningKeyEntity): Promise<SigningKeyEntity> {
    return this.keys.save(key);
  }

  /**
   * Retires, at `newest`'s activation, every key not yet retired that activates before it (by
   * activation, then kid); they stay published until `publishUntil`. Only earlier ones:
   * instances rotating at once (several starting on an empty database) each retire the keys
   * before their own, so the latest of them stays whatever order the statements run in, where
   * "all but mine" could retire every one.
   */
  async retireBefore(
    newest: { kid: string; activatesAt: Date },
    publishUntil: Date,
  ): Promise<void> {
    await this.keys
      .createQueryBuilder()
      .update()
      .set({ retiredAt: newest.activatesAt, publishUntil })
      .where('retired_at IS NULL')
      .andWhere('(activates_at < :activatesAt OR (activates_at = :activatesAt AND kid < :kid))', {
        activatesAt: newest.activatesAt,
        kid: newest.kid,
      })
      .execute();
  }

  async removeUnpublishedBefore(now: Date): Promise<number> {
    const result = await this.keys.delete({ publishUntil: LessThan(now) });
    return result.affected ?? 0;
  }

  /** Keys with no retirement set: the one that signs last (one, unless rotations raced). */
  countActive(): Promise<number> {
    return this.keys.count({ where: { retiredAt: IsNull() } });
  }
}
