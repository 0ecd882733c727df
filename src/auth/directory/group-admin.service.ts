import { Injectable } from '@nestjs/common';
import { AuditSink } from '../../audit/audit.port';
import { DomainError, Problems } from '../../common/problem/domain-error';
import { ADMIN_GROUP } from '../../common/principal';
import { isUniqueViolation } from '../../common/database/db-errors';
import { renameGroupInSettings, settingsNamingGroup } from '../../settings/group-settings';
import { SettingsService } from '../../settings/settings.service';
import { Actor, recordDirectoryChange } from './directory-audit';
import { toGroupView } from './directory-views';
import { GroupView, RenameGroupDto } from './dto/directory.dto';
import { GroupEntity } from './group.entity';
import { assertValidGroupName } from './group-name';
import { UserCache } from './user-cache';
import { GroupsRepository } from './users.repository';

/**
 * Renaming and deleting groups. A group is also a name in the settings' restriction lists, so
 * both changes are made together with the settings, in one transaction.
 */
@Injectable()
export class GroupAdminService {
  constructor(
    private readonly groups: GroupsRepository,
    private readonly cache: UserCache,
    private readonly settings: SettingsService,
    private readonly audit: AuditSink,
  ) {}

  /**
   * Renames a group, and the settings lists that name it, in one transaction; the new settings
   * version reaches every instance as any settings change does, and the members' cached groups
   * are dropped here and (bus, then poll) on the others.
   */
  async renameGroup(name: string, dto: RenameGroupDto, actor: Actor): Promise<GroupView> {
    assertValidGroupName(dto.name);
    const group = await this.requireGroup(name);
    protectAdminGroup(group, 'renamed');
    const other = await this.groups.findByName(dto.name);
    if (other && other.id !== group.id)
      throw Problems.conflict(`Group ${dto.name} already exists`, 'group_exists');
    const from = group.name;
    let settings: string[] = [];
    let result: Awaited<ReturnType<GroupsRepository['renameWithSettings']>>;
    try {
      result = await this.groups.renameWithSettings(group, dto.name, new Date(), (document) => {
        settings = renameGroupInSettings(document, from, dto.name);
        return settings.length > 0;
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw Problems.conflict(`Group ${dto.name} already exists`, 'group_exists');
      throw err;
    }
    if (result.settingsVersion !== null) await this.settings.storedChanged();
    for (const id of result.memberIds) this.cache.invalidate(id);
    recordDirectoryChange(this.audit, 'group.renamed', actor, {
      from,
      to: dto.name,
      members: result.memberIds.length,
      settings,
      settingsVersion: result.settingsVersion,
    });
    return toGroupView({ ...group, name: dto.name });
  }

  /** Deletes a group and its memberships; refused while a settings list names it. */
  async deleteGroup(name: string, actor: Actor): Promise<void> {
    const group = await this.requireGroup(name);
    protectAdminGroup(group, 'deleted');
    const result = await this.groups.removeUnlessNamed(group, new Date(), (document) =>
      settingsNamingGroup(document, group.name),
    );
    if (!result.removed) {
      throw new DomainError(
        409,
        'group_in_use',
        'Conflict',
        `Group ${group.name} is named in the settings (${result.namedIn.join(', ')}); take it out there first`,
        { fields: { settings: result.namedIn } },
      );
    }
    for (const id of result.memberIds) this.cache.invalidate(id);
    recordDirectoryChange(this.audit, 'group.deleted', actor, {
      group: group.name,
      members: result.memberIds.length,
    });
  }

  private async requireGroup(name: string): Promise<GroupEntity> {
    const group = name.length <= 255 ? await this.groups.findByName(name) : null;
    if (!group) throw Problems.notFound(`No group ${name}`, 'group_not_found');
    return group;
  }
}

/** The administrators' group is what every admin route checks: it cannot go or change its name. */
function protectAdminGroup(group: GroupEntity, what: 'renamed' | 'deleted'): void {
  if (group.nameKey === ADMIN_GROUP.toLowerCase())
    throw Problems.conflict(
      `The administrators' group ${ADMIN_GROUP} cannot be ${what}`,
      'admin_group_protected',
    );
}
