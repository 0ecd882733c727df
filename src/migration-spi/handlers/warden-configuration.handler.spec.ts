import { AuditSink } from '../../audit/audit.port';
import { DirectoryService } from '../../auth/directory/directory.service';
import { GroupEntity } from '../../auth/directory/group.entity';
import { PasswordHasher } from '../../auth/directory/password-hasher';
import { UserCache } from '../../auth/directory/user-cache';
import { GroupsRepository, UsersRepository } from '../../auth/directory/users.repository';
import { SessionsService } from '../../auth/sessions/sessions.service';
import { Clock } from '../../common/clock';
import { WardenConfig } from '../../config/warden-config';
import { TenantDirectory } from '../../connect/tenants/tenant-directory.service';
import { TenantsRepository } from '../../connect/tenants/tenants.repository';
import { DEFAULT_SETTINGS } from '../../restrictions/settings.defaults';
import { SettingsService } from '../../restrictions/settings.service';
import { ImportContext, ImportReport } from './migration-handler';
import { WardenConfigurationHandler } from './warden-configuration.handler';

const BAD = 'bad/group\u0000';

describe(WardenConfigurationHandler.name, () => {
  let groups: GroupEntity[];
  let sut: WardenConfigurationHandler;

  beforeEach(() => {
    groups = [];
    const groupsRepository = {
      list: jest.fn(async () => [...groups]),
      save: jest.fn(async (group: GroupEntity) => {
        groups.push(group);
        return group;
      }),
    } as unknown as GroupsRepository;
    // The real directory: the import creates groups through its own check.
    const directory = new DirectoryService(
      {} as UsersRepository,
      groupsRepository,
      {} as PasswordHasher,
      {} as UserCache,
      {} as SessionsService,
      { record: jest.fn() } as unknown as AuditSink,
      {} as WardenConfig,
      {} as SettingsService,
    );
    const settings = {
      masked: () => structuredClone(DEFAULT_SETTINGS),
    } as unknown as SettingsService;
    const tenants = { find: jest.fn(async () => null) } as unknown as TenantsRepository;
    sut = new WardenConfigurationHandler(
      settings,
      directory,
      tenants,
      {} as TenantDirectory,
      {} as Clock,
    );
  });

  const importGroups = (names: string[], dryRun: boolean): Promise<ImportReport> =>
    sut.importData({ settings: structuredClone(DEFAULT_SETTINGS), groups: names, tenants: [] }, {
      dryRun,
      progress: () => undefined,
      mappings: async () => [],
    } as ImportContext);

  it('a real import reports an invalid group name as the dry run does, and creates only the valid ones', async () => {
    const names = ['api-users', BAD, 'x'.repeat(256), 'auditors'];

    const dry = await importGroups(names, true);
    expect(groups).toEqual([]);
    const real = await importGroups(names, false);

    expect(real).toEqual(dry);
    expect(real.changes).toEqual([
      { target: 'group', key: 'api-users', action: 'create' },
      { target: 'group', key: 'auditors', action: 'create' },
    ]);
    expect(real.problems).toEqual([
      {
        severity: 'ERROR',
        message: expect.stringMatching(/^Group "bad\/group\\u0000" was not created: A group name/),
      },
      { severity: 'ERROR', message: expect.stringContaining('was not created: A group name') },
    ]);
    expect(groups.map((g) => g.name)).toEqual(['api-users', 'auditors']);
  });
});
