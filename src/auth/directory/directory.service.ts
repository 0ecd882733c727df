import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { AuditSink } from '../../audit/audit.port';
import { Problems } from '../../common/problem/domain-error';
import { ADMIN_GROUP } from '../../common/principal';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { isUniqueViolation } from '../../common/database/db-errors';
import { SessionsService } from '../sessions/sessions.service';
import {
  CreateGroupDto,
  CreateUserDto,
  GroupView,
  MigratedUserDto,
  UpdateUserDto,
  UserView,
} from './dto/directory.dto';
import { Actor, recordDirectoryChange } from './directory-audit';
import { toGroupView, toUserView } from './directory-views';
import { GroupEntity } from './group.entity';
import { assertValidGroupName } from './group-name';
import { PasswordHasher } from './password-hasher';
import { UserCache } from './user-cache';
import { UserEntity } from './user.entity';
import { GroupsRepository, UsersRepository } from './users.repository';

/** Users read per query when the whole directory is exported. */
const EXPORT_PAGE = 500;

/** The local directory: users, groups, passwords. Every change reaches the user cache at once. */
@Injectable()
export class DirectoryService {
  private removedListeners: ((userId: string, actor: string) => Promise<void>)[] = [];
  constructor(
    private readonly users: UsersRepository,
    private readonly groups: GroupsRepository,
    private readonly hasher: PasswordHasher,
    private readonly cache: UserCache,
    private readonly sessions: SessionsService,
    private readonly audit: AuditSink,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  /** Other modules end their credentials of a user who is deleted or disabled. */
  onUserRemoved(listener: (userId: string, actor: string) => Promise<void>): void {
    this.removedListeners.push(listener);
  }

  private async userRemoved(userId: string, actor: string): Promise<void> {
    for (const listener of this.removedListeners) await listener(userId, actor);
  }

  /** Checks a password; null for unknown users, wrong passwords and disabled users alike. */
  async verifyPassword(username: string, password: string): Promise<UserEntity | null> {
    const user = username.length <= 255 ? await this.users.findByUsername(username) : null;
    const ok = await this.hasher.verify(user?.passwordHash, password);
    return ok && user && !user.disabled ? user : null;
  }

  findByUsername(username: string): Promise<UserEntity | null> {
    return this.users.findByUsername(username);
  }

  /** For callers vouched for by the upstream product: the local record is created on first sight. */
  async findOrProvision(username: string): Promise<UserEntity> {
    const existing = await this.users.findByUsername(username);
    if (existing) return existing;
    try {
      const user = await this.users.save(newUser(username, null, [], {}));
      this.audit.record({
        event: 'user.provisioned',
        outcome: 'success',
        actor: username,
        details: { username },
      });
      return user;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return (await this.users.findByUsername(username))!;
    }
  }

  async createUser(dto: CreateUserDto, actor: Actor): Promise<UserView> {
    const groups = await this.resolveGroups(dto.groups ?? []);
    const user = newUser(dto.username, await this.hasher.hash(dto.password), groups, dto);
    try {
      await this.users.save(user);
    } catch (err) {
      if (isUniqueViolation(err))
        throw Problems.conflict(`User ${dto.username} already exists`, 'user_exists');
      throw err;
    }
    recordDirectoryChange(this.audit, 'user.created', actor, {
      username: user.username,
      groups: groups.map((g) => g.name),
    });
    return toUserView(user);
  }

  async getUser(username: string): Promise<UserView> {
    return toUserView(await this.require(username));
  }

  async listUsers(offset: number, limit: number): Promise<{ items: UserView[]; total: number }> {
    const [users, total] = await this.users.list(offset, limit);
    return { items: users.map(toUserView), total };
  }

  async updateUser(username: string, dto: UpdateUserDto, actor: Actor): Promise<UserView> {
    const user = await this.require(username);
    const changed: string[] = [];
    if (dto.groups !== undefined) {
      const groups = await this.resolveGroups(dto.groups);
      if (
        user.username.toLowerCase() === actor.username.toLowerCase() &&
        !groups.some((g) => g.name === ADMIN_GROUP)
      ) {
        throw Problems.conflict(
          'Removing yourself from the admin group would lock you out',
          'self_lockout',
        );
      }
      user.groups = groups;
      changed.push('groups');
    }
    if (dto.displayName !== undefined) {
      user.displayName = dto.displayName;
      changed.push('displayName');
    }
    if (dto.email !== undefined) {
      user.email = dto.email;
      changed.push('email');
    }
    if (dto.password !== undefined) {
      user.passwordHash = await this.hasher.hash(dto.password);
      changed.push('password');
    }
    if (dto.disabled !== undefined) {
      if (dto.disabled && user.username.toLowerCase() === actor.username.toLowerCase()) {
        throw Problems.conflict('Disabling yourself would lock you out', 'self_lockout');
      }
      user.disabled = dto.disabled;
      changed.push('disabled');
    }
    user.updatedAt = new Date();
    await this.users.save(user);
    this.cache.invalidate(user.id);
    // A new password or a disabled account ends every session, as a stolen session should not outlive either.
    if (dto.password !== undefined || dto.disabled === true) {
      await this.sessions.revokeAllForUser(
        user.id,
        dto.disabled ? 'user_disabled' : 'password_changed',
      );
    }
    recordDirectoryChange(this.audit, 'user.updated', actor, {
      username: user.username,
      changed,
      groups: dto.groups,
    });
    return toUserView(user);
  }

  async deleteUser(username: string, actor: Actor): Promise<void> {
    const user = await this.require(username);
    if (user.username.toLowerCase() === actor.username.toLowerCase()) {
      throw Problems.conflict('Deleting yourself would lock you out', 'self_lockout');
    }
    // Other instances learn of it from the bus, or else from the user's tombstone (their
    // directory poll): the sessions revoked here go with the user's row.
    await this.sessions.revokeAllForUser(user.id, 'user_deleted');
    await this.userRemoved(user.id, actor.username);
    await this.users.remove(user.id);
    this.cache.invalidate(user.id);
    recordDirectoryChange(this.audit, 'user.deleted', actor, { username: user.username });
  }

  async createGroup(dto: CreateGroupDto, actor: Actor): Promise<GroupView> {
    // Not only the API's body: an import and the CLI create groups through here too.
    assertValidGroupName(dto.name);
    const group = Object.assign(new GroupEntity(), {
      id: randomUUID(),
      name: dto.name,
      nameKey: dto.name.toLowerCase(),
      createdAt: new Date(),
    });
    try {
      await this.groups.save(group);
    } catch (err) {
      if (isUniqueViolation(err))
        throw Problems.conflict(`Group ${dto.name} already exists`, 'group_exists');
      throw err;
    }
    recordDirectoryChange(this.audit, 'group.created', actor, { group: group.name });
    return toGroupView(group);
  }

  async listGroups(): Promise<GroupView[]> {
    return (await this.groups.list()).map(toGroupView);
  }

  /** Every user, as a migration exports them: no password, no token. */
  async exportUsers(): Promise<MigratedUserDto[]> {
    const all: MigratedUserDto[] = [];
    for (let offset = 0; ; offset += EXPORT_PAGE) {
      const [users] = await this.users.list(offset, EXPORT_PAGE);
      all.push(
        ...users.map((u) => ({
          username: u.username,
          displayName: u.displayName,
          email: u.email,
          disabled: u.disabled,
          groups: (u.groups ?? []).map((g) => g.name).sort(),
        })),
      );
      if (users.length < EXPORT_PAGE) return all;
    }
  }

  /**
   * Creates or updates a user from another instance's export (a validated MigratedUserDto), or
   * in a dry run only says what it would do. The user's password and tokens stay as they are
   * here (a new user has none). Membership of the administrators' group is never migrated,
   * either way: an import must neither lock this instance's administrators out nor make
   * someone an administrator here; the reason says so when the source differs.
   */
  async applyMigratedUser(
    source: MigratedUserDto,
    dryRun: boolean,
    actor: Actor,
  ): Promise<{ outcome: 'created' | 'updated' | 'skipped'; changed: string[]; reason?: string }> {
    const isAdmin = (name: string) => name.toLowerCase() === ADMIN_GROUP.toLowerCase();
    const wanted = [
      ...new Set(source.groups.filter((g) => !isAdmin(g)).map((g) => g.toLowerCase())),
    ];
    // A dry run has not created the groups the import creates before its users: the names
    // decide there, the rows only when the import is real.
    const groups = dryRun ? [] : await this.resolveGroups(wanted);
    const existing = await this.users.findByUsername(source.username);
    const kept = (existing?.groups ?? []).filter((g) => isAdmin(g.name));
    const reason =
      source.groups.some(isAdmin) !== kept.length > 0
        ? `${ADMIN_GROUP} membership is not migrated; grant or withdraw it on this instance`
        : undefined;
    if (!existing) {
      if (!dryRun) {
        const user = newUser(source.username, null, groups, {
          displayName: source.displayName ?? undefined,
          email: source.email ?? undefined,
        });
        user.disabled = source.disabled;
        await this.users.save(user);
        recordDirectoryChange(this.audit, 'user.created', actor, {
          username: user.username,
          groups: wanted,
          migrated: true,
        });
      }
      return { outcome: 'created', changed: [], reason };
    }
    const here = existing.groups.filter((g) => !isAdmin(g.name)).map((g) => g.nameKey);
    const changed = [
      existing.displayName !== source.displayName ? 'displayName' : null,
      existing.email !== source.email ? 'email' : null,
      existing.disabled !== source.disabled ? 'disabled' : null,
      [...here].sort().join('\n') !== [...wanted].sort().join('\n') ? 'groups' : null,
    ].filter((c): c is string => c !== null);
    if (changed.length === 0) return { outcome: 'skipped', changed, reason: reason ?? 'unchanged' };
    if (!dryRun) {
      const disabling = source.disabled && !existing.disabled;
      Object.assign(existing, {
        displayName: source.displayName,
        email: source.email,
        disabled: source.disabled,
        groups: [...groups, ...kept],
        updatedAt: new Date(),
      });
      await this.users.save(existing);
      this.cache.invalidate(existing.id);
      if (disabling) await this.sessions.revokeAllForUser(existing.id, 'user_disabled');
      recordDirectoryChange(this.audit, 'user.updated', actor, {
        username: existing.username,
        changed,
        migrated: true,
      });
    }
    return { outcome: 'updated', changed, reason };
  }

  /**
   * Creates the admin group and, when no member of it exists, the bootstrap admin. Returns the
   * generated password when one had to be made up (printed once by the caller).
   */
  async ensureBootstrapAdmin(): Promise<{ username: string; generatedPassword?: string } | null> {
    const adminGroup = await this.ensureGroup(ADMIN_GROUP);
    if (await this.users.anyMemberOf(adminGroup)) return null;
    const username = this.config.admin.username;
    const password = this.config.admin.password ?? randomBytes(18).toString('base64url');
    const existing = await this.users.findByUsername(username);
    const user = existing ?? newUser(username, null, [], {});
    user.passwordHash = await this.hasher.hash(password);
    user.groups = [...(user.groups ?? []).filter((g) => g.id !== adminGroup.id), adminGroup];
    user.disabled = false;
    user.updatedAt = new Date();
    try {
      await this.users.save(user);
    } catch (err) {
      // Another instance starting on the same empty database made the admin first.
      if (!existing && isUniqueViolation(err)) return null;
      throw err;
    }
    this.cache.invalidate(user.id);
    recordDirectoryChange(this.audit, 'user.bootstrap_admin', { username: 'system' }, { username });
    return { username, generatedPassword: this.config.admin.password ? undefined : password };
  }

  /** Sets a new password (CLI recovery); ends the user's sessions. */
  async resetPassword(username: string, password: string): Promise<void> {
    const user = await this.require(username);
    user.passwordHash = await this.hasher.hash(password);
    user.disabled = false;
    user.updatedAt = new Date();
    await this.users.save(user);
    this.cache.invalidate(user.id);
    await this.sessions.revokeAllForUser(user.id, 'password_reset');
    recordDirectoryChange(this.audit, 'user.password_reset', { username: 'system' }, { username });
  }

  private async ensureGroup(name: string): Promise<GroupEntity> {
    const existing = await this.groups.findByName(name);
    if (existing) return existing;
    try {
      return await this.groups.save(
        Object.assign(new GroupEntity(), {
          id: randomUUID(),
          name,
          nameKey: name.toLowerCase(),
          createdAt: new Date(),
        }),
      );
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return (await this.groups.findByName(name))!;
    }
  }

  private async resolveGroups(names: string[]): Promise<GroupEntity[]> {
    const unique = [...new Set(names.map((n) => n.toLowerCase()))];
    const found = await this.groups.findByNames(unique);
    const missing = unique.filter((n) => !found.some((g) => g.nameKey === n));
    if (missing.length > 0) {
      throw Problems.badRequest(`Unknown groups: ${missing.join(', ')}`, 'unknown_group', {
        unknownGroups: missing,
      });
    }
    return found;
  }

  private async require(username: string): Promise<UserEntity> {
    const user = username.length <= 255 ? await this.users.findByUsername(username) : null;
    if (!user) throw Problems.notFound(`No user ${username}`, 'user_not_found');
    return user;
  }
}

function newUser(
  username: string,
  passwordHash: string | null,
  groups: GroupEntity[],
  extra: { displayName?: string; email?: string },
): UserEntity {
  const now = new Date();
  return Object.assign(new UserEntity(), {
    id: randomUUID(),
    username,
    usernameKey: username.toLowerCase(),
    displayName: extra.displayName ?? null,
    email: extra.email ?? null,
    passwordHash,
    disabled: false,
    createdAt: now,
    updatedAt: now,
    groups,
  });
}
