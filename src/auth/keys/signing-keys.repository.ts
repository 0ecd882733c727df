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

  /** Retires every active key but `keepKid`; they stay published until `publishUntil`. */
  async retireAllExcept(keepKid: string, retiredAt: Date, publishUntil: Date): Promise<void> {
    await this.keys
      .createQueryBuilder()
      .update()
      .set({ retiredAt, publishUntil })
      .where('kid <> :keepKid AND retired_at IS NULL', { keepKid })
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
