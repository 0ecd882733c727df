import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, MoreThan, Repository } from 'typeorm';
import { GroupEntity } from './group.entity';
import { UserTombstoneEntity } from './user-tombstone.entity';
import { UserEntity } from './user.entity';

/** How long a deleted user's tombstone is kept: far longer than any instance's poll overlap. */
const TOMBSTONE_KEEP_MS = 86_400_000;

@Injectable()
export class UsersRepository {
  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    @InjectRepository(UserTombstoneEntity)
    private readonly tombstones: Repository<UserTombstoneEntity>,
  ) {}

  findByUsername(username: string): Promise<UserEntity | null> {
    return this.users.findOne({
      where: { usernameKey: username.toLowerCase() },
      relations: { groups: true },
    });
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOne({ where: { id }, relations: { groups: true } });
  }

  list(offset: number, limit: number): Promise<[UserEntity[], number]> {
    return this.users.findAndCount({
      relations: { groups: true },
      order: { usernameKey: 'ASC' },
      skip: offset,
      take: limit,
    });
  }

  save(user: UserEntity): Promise<UserEntity> {
    return this.users.save(user);
  }

  /**
   * Deletes the user (its sessions and memberships go with it) and leaves a tombstone in the same
   * transaction: the deleted row cannot tell other instances that the user is gone.
   */
  async remove(id: string): Promise<boolean> {
    return this.users.manager.transaction(async (manager) => {
      const result = await manager.delete(UserEntity, { id });
      if (!result.affected) return false;
      const now = new Date();
      await manager.delete(UserTombstoneEntity, {
        deletedAt: LessThan(new Date(now.getTime() - TOMBSTONE_KEEP_MS)),
      });
      await manager.save(UserTombstoneEntity, { userId: id, deletedAt: now });
      return true;
    });
  }

  /**
   * Ids of users changed or deleted after `since` (group membership changes touch `updated_at`
   * too; a deletion is its tombstone's time).
   */
  async changedSince(since: Date): Promise<{ id: string; updatedAt: Date }[]> {
    const [changed, deleted] = await Promise.all([
      this.users.find({
        select: { id: true, updatedAt: true },
        where: { updatedAt: MoreThan(since) },
      }),
      this.tombstones.find({ where: { deletedAt: MoreThan(since) } }),
    ]);
    return [...changed, ...deleted.map((t) => ({ id: t.userId, updatedAt: t.deletedAt }))];
  }

  async anyMemberOf(group: GroupEntity): Promise<boolean> {
    const count = await this.users
      .createQueryBuilder('u')
      .innerJoin('u.groups', 'g', 'g.id = :id', { id: group.id })
      .getCount();
    return count > 0;
  }
}

@Injectable()
export class GroupsRepository {
  constructor(@InjectRepository(GroupEntity) private readonly groups: Repository<GroupEntity>) {}

  findByNames(names: string[]): Promise<GroupEntity[]> {
    if (names.length === 0) return Promise.resolve([]);
    return this.groups.find({ where: { nameKey: In(names.map((n) => n.toLowerCase())) } });
  }

  findByName(name: string): Promise<GroupEntity | null> {
    return this.groups.findOne({ where: { nameKey: name.toLowerCase() } });
  }

  list(): Promise<GroupEntity[]> {
    return this.groups.find({ order: { nameKey: 'ASC' } });
  }

  save(group: GroupEntity): Promise<GroupEntity> {
    return this.groups.save(group);
  }
}
