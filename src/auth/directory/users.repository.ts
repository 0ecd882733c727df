import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, MoreThan, Repository } from 'typeorm';
import { GroupEntity } from './group.entity';
import { UserEntity } from './user.entity';

@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(UserEntity) private readonly users: Repository<UserEntity>) {}

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

  async remove(id: string): Promise<boolean> {
    const result = await this.users.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** Ids of users changed after `since` (group membership changes touch `updated_at` too). */
  async changedSince(since: Date): Promise<{ id: string; updatedAt: Date }[]> {
    return this.users.find({
      select: { id: true, updatedAt: true },
      where: { updatedAt: MoreThan(since) },
    });
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
