import { AuditSink } from '../../audit/audit.port';
import { DomainError } from '../../common/problem/domain-error';
import { SettingsService } from '../../settings/settings.service';
import { GroupAdminService } from './group-admin.service';
import { GroupEntity } from './group.entity';
import { UserCache } from './user-cache';
import { GroupsRepository } from './users.repository';

describe(GroupAdminService.name, () => {
  let recorded: string[];
  let stored: GroupEntity[];
  let document: Record<string, unknown>;
  let invalidated: string[];
  let settings: { storedChanged: jest.Mock };
  let sut: GroupAdminService;

  const group = (name: string): GroupEntity =>
    Object.assign(new GroupEntity(), {
      id: `id-${name}`,
      name,
      nameKey: name.toLowerCase(),
      createdAt: new Date(0),
    });

  beforeEach(() => {
    recorded = [];
    stored = [group('warden-admins'), group('Ops'), group('dev')];
    document = { groups: { apiAccess: ['ops'], readOnly: [], tokenCreators: ['dev', 'OPS'] } };
    invalidated = [];
    settings = { storedChanged: jest.fn(async () => undefined) };
    // The repository's transactions, over the stored groups and one settings document.
    const groups = {
      findByName: jest.fn(
        async (name: string) => stored.find((g) => g.nameKey === name.toLowerCase()) ?? null,
      ),
      renameWithSettings: jest.fn(
        async (
          g: GroupEntity,
          name: string,
          _at: Date,
          rewrite: (d: Record<string, unknown>) => boolean,
        ) => {
          Object.assign(
            stored.find((s) => s.id === g.id)!,
            { name, nameKey: name.toLowerCase() },
          );
          return { memberIds: ['u1', 'u2'], settingsVersion: rewrite(document) ? 8 : null };
        },
      ),
      removeUnlessNamed: jest.fn(
        async (g: GroupEntity, _at: Date, namedIn: (d: Record<string, unknown>) => string[]) => {
          const paths = namedIn(document);
          if (paths.length > 0) return { removed: false, namedIn: paths };
          stored = stored.filter((s) => s.id !== g.id);
          return { removed: true, memberIds: ['u3'] };
        },
      ),
    } as unknown as GroupsRepository;
    sut = new GroupAdminService(
      groups,
      { invalidate: (id: string) => void invalidated.push(id) } as unknown as UserCache,
      settings as unknown as SettingsService,
      {
        record: jest.fn((e: { event: string }) => void recorded.push(e.event)),
      } as unknown as AuditSink,
    );
  });

  const admin = { username: 'admin' };
  const failure = (work: Promise<unknown>) =>
    work.then(
      () => null,
      (e: DomainError) => e,
    );

  it('renames in the directory and in every settings list, then announces both', async () => {
    const view = await sut.renameGroup('OPS', { name: 'operations' }, admin);
    expect(view.name).toBe('operations');
    expect(document.groups).toEqual({
      apiAccess: ['operations'],
      readOnly: [],
      tokenCreators: ['dev', 'operations'],
    });
    expect(settings.storedChanged).toHaveBeenCalledTimes(1);
    expect(invalidated).toEqual(['u1', 'u2']);
    expect(recorded).toEqual(['group.renamed']);
  });

  it('a group no setting names is renamed without a settings change', async () => {
    await sut.renameGroup('dev', { name: 'Developers' }, admin);
    expect(settings.storedChanged).toHaveBeenCalledTimes(1);
    document = { groups: { apiAccess: [], readOnly: [], tokenCreators: [] } };
    await sut.renameGroup('developers', { name: 'DEVELOPERS' }, admin);
    expect(settings.storedChanged).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['nobody', 'x', 404, 'group_not_found'],
    ['Ops', 'dev', 409, 'group_exists'],
    ['Ops', 'bad/name', 400, 'validation_failed'],
    ['warden-admins', 'admins', 409, 'admin_group_protected'],
  ])('renaming %s to %s is a %i %s and changes nothing', async (from, to, status, code) => {
    expect(await failure(sut.renameGroup(from, { name: to }, admin))).toMatchObject({
      status,
      code,
    });
    expect(stored.map((g) => g.name)).toEqual(['warden-admins', 'Ops', 'dev']);
    expect(recorded).toEqual([]);
  });

  it('deletes a group no setting names; refuses one that is named, naming the lists', async () => {
    document = { groups: { apiAccess: [], readOnly: ['Ops'], tokenCreators: ['ops'] } };
    const refused = await failure(sut.deleteGroup('ops', admin));
    expect(refused).toMatchObject({ status: 409, code: 'group_in_use' });
    expect(refused!.extras.fields).toEqual({
      settings: ['groups.readOnly', 'groups.tokenCreators'],
    });
    expect(refused!.detail).toContain('groups.readOnly');

    await sut.deleteGroup('dev', admin);
    expect(stored.map((g) => g.name)).toEqual(['warden-admins', 'Ops']);
    expect(invalidated).toEqual(['u3']);
    expect(recorded).toEqual(['group.deleted']);
  });

  it('warden-admins cannot be deleted; an unknown group is a 404', async () => {
    expect(await failure(sut.deleteGroup('Warden-Admins', admin))).toMatchObject({
      status: 409,
      code: 'admin_group_protected',
    });
    expect(await failure(sut.deleteGroup('nobody', admin))).toMatchObject({ status: 404 });
  });
});
