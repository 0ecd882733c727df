import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, LessThan, MoreThan, Repository } from 'typeorm';
import { SettingsEntity } from '../../settings/settings.entity';
import { SETTINGS_ROW } from '../../settings/settings.repository';
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

  /**
   * Renames a group and, in the same transaction, every settings list that names it: the new
   * settings document comes from `rewrite` (null: unchanged) and takes the next version. The
   * members' `updated_at` moves, so other instances' directory polls drop their cached groups.
   * Throws the unique violation when another group has the new name.
   */
  async renameWithSettings(
    group: GroupEntity,
    name: string,
    at: Date,
    rewrite: (document: Record<string, unknown>) => boolean,
  ): Promise<{ memberIds: string[]; settingsVersion: number | null }> {
    return this.groups.manager.transaction(async (manager) => {
      await manager.update(GroupEntity, { id: group.id }, { name, nameKey: name.toLowerCase() });
      const memberIds = await touchMembers(manager, group.id, at);
      const settingsVersion = await rewriteSettings(manager, at, rewrite);
      return { memberIds, settingsVersion };
    });
  }

  /**
   * Deletes a group and its memberships unless a settings list names it, judged in the same
   * transaction as the deletion (a settings change racing it cannot slip the name in between).
   */
  async removeUnlessNamed(
    group: GroupEntity,
    at: Date,
    namedIn: (document: Record<string, unknown>) => string[],
  ): Promise<{ removed: true; memberIds: string[] } | { removed: false; namedIn: string[] }> {
    return this.groups.manager.transaction(async (manager) => {
      const row = await lockedSettings(manager);
      const paths = row ? namedIn(JSON.parse(row.document) as Record<string, unknown>) : [];
      if (paths.length > 0) return { removed: false as const, namedIn: paths };
      const memberIds = await touchMembers(manager, group.id, at);
      await manager.query(`DELETE FROM user_groups WHERE group_id = ${param(manager, 1)}`, [
        group.id,
      ]);
      await manager.delete(GroupEntity, { id: group.id });
      return { removed: true as const, memberIds };
    });
  }
}

function param(manager: EntityManager, n: number): string {
  return manager.connection.options.type === 'postgres' ? `$${n}` : '?';
}

/** The members' ids; their `updated_at` set to `at`, which other instances' polls look for. */
async function touchMembers(manager: EntityManager, groupId: string, at: Date): Promise<string[]> {
  const rows = (await manager.query(
    `SELECT user_id FROM user_groups WHERE group_id = ${param(manager, 1)}`,
    [groupId],
  )) as { user_id: string }[];
  const ids = rows.map((r) => r.user_id);
  if (ids.length > 0)
    await manager
      .createQueryBuilder()
      .update(UserEntity)
      .set({ updatedAt: at })
      .where('id IN (SELECT user_id FROM user_groups WHERE group_id = :groupId)', { groupId })
      .execute();
  return ids;
}

/** The settings row, locked against concurrent writers until the transaction ends (PostgreSQL). */
function lockedSettings(manager: EntityManager): Promise<SettingsEntity | null> {
  const query = manager
    .createQueryBuilder(SettingsEntity, 's')
    .where('s.id = :id', { id: SETTINGS_ROW });
  if (manager.connection.options.type === 'postgres') query.setLock('pessimistic_write');
  return query.getOne();
}

/** Applies `rewrite` to the stored settings document; the new version, or null when unchanged. */
async function rewriteSettings(
  manager: EntityManager,
  at: Date,
  rewrite: (document: Record<string, unknown>) => boolean,
): Promise<number | null> {
  const row = await lockedSettings(manager);
  if (!row) return null;
  const document = JSON.parse(row.document) as Record<string, unknown>;
  if (!rewrite(document)) return null;
  const result = await manager
    .createQueryBuilder()
    .update(SettingsEntity)
    .set({
      document: JSON.stringify(document),
      version: () => 'version + 1',
      updatedAt: at,
      updatedBy: 'directory',
    })
    .where('id = :id AND version = :version', { id: SETTINGS_ROW, version: row.version })
    .execute();
  // SQLite runs one writer at a time, PostgreSQL holds the row's lock: nobody wrote in between.
  if ((result.affected ?? 0) !== 1) throw new Error('The settings changed during the transaction');
  return row.version + 1;
}
