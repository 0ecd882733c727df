import { AuditSink } from '../../audit/audit.port';
import { DirectoryService } from '../../auth/directory/directory.service';
import { GroupEntity } from '../../auth/directory/group.entity';
import { UserEntity } from '../../auth/directory/user.entity';
import { PasswordHasher } from '../../auth/directory/password-hasher';
import { UserCache } from '../../auth/directory/user-cache';
import { GroupsRepository, UsersRepository } from '../../auth/directory/users.repository';
import { SessionsService } from '../../auth/sessions/sessions.service';
import { Clock } from '../../common/clock';
import { WardenConfig } from '../../config/warden-config';
import { TenantDirectory } from '../../connect/tenants/tenant-directory.service';
import { TenantsRepository } from '../../connect/tenants/tenants.repository';
import { DEFAULT_SETTINGS } from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { ImportContext, ImportReport } from './migration-handler';
import { WardenConfigurationHandler } from './warden-configuration.handler';

const BAD = 'bad/group\u0000';

describe(WardenConfigurationHandler.name, () => {
  let groups: GroupEntity[];
  let users: UserEntity[];
  let revoked: string[];
  let sut: WardenConfigurationHandler;

  beforeEach(() => {
    groups = [];
    users = [];
    revoked = [];
    const groupsRepository = {
      list: jest.fn(async () => [...groups]),
      save: jest.fn(async (group: GroupEntity) => {
        groups.push(group);
        return group;
      }),
      findByNames: jest.fn(async (names: string[]) =>
        groups.filter((g) => names.some((n) => n.toLowerCase() === g.nameKey)),
      ),
    } as unknown as GroupsRepository;
    const usersRepository = {
      findByUsername: jest.fn(
        async (name: string) =>
          structuredClone(users.find((u) => u.usernameKey === name.toLowerCase())) ?? null,
      ),
      save: jest.fn(async (user: UserEntity) => {
        users = [...users.filter((u) => u.id !== user.id), structuredClone(user)];
        return user;
      }),
    } as unknown as UsersRepository;
    // The real directory: the import creates groups and users through its own checks.
    const directory = new DirectoryService(
      usersRepository,
      groupsRepository,
      {} as PasswordHasher,
      { invalidate: jest.fn() } as unknown as UserCache,
      {
        revokeAllForUser: jest.fn(async (id: string) => void revoked.push(id)),
      } as unknown as SessionsService,
      { record: jest.fn() } as unknown as AuditSink,
      {} as WardenConfig,
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

  const importUsers = (
    names: string[],
    migrated: unknown[],
    dryRun: boolean,
  ): Promise<ImportReport> =>
    sut.importData(
      { settings: structuredClone(DEFAULT_SETTINGS), groups: names, users: migrated, tenants: [] },
      { dryRun, progress: () => undefined, mappings: async () => [] } as ImportContext,
    );
  const migrated = (username: string, extra: Record<string, unknown> = {}) => ({
    username,
    displayName: `${username} display`,
    email: `${username}@example.com`,
    disabled: false,
    groups: ['api-users'],
    ...extra,
  });

  it('imports users with their groups and without passwords; the dry run reports the same outcomes', async () => {
    const input = [
      migrated('alice'),
      migrated('bob', { groups: ['api-users', 'auditors'], disabled: true }),
      migrated('has space'),
      migrated('carol', { email: 'not-an-email' }),
      migrated('dave', { groups: [BAD] }),
      'not a user',
    ];
    const dry = await importUsers(['api-users', 'auditors', BAD], input, true);
    expect(users).toEqual([]);
    const real = await importUsers(['api-users', 'auditors', BAD], input, false);

    expect(real.items).toEqual(dry.items);
    expect(real.items!.filter((i) => i.target === 'user')).toEqual([
      { target: 'user', key: 'alice', outcome: 'created' },
      { target: 'user', key: 'bob', outcome: 'created' },
      {
        target: 'user',
        key: 'has space',
        outcome: 'failed',
        reason: expect.stringContaining('username'),
      },
      { target: 'user', key: 'carol', outcome: 'failed', reason: expect.stringContaining('email') },
      {
        target: 'user',
        key: 'dave',
        outcome: 'failed',
        // Its group's name holds a NUL: refused before anything else is looked at.
        reason: expect.stringContaining('NUL'),
      },
      { target: 'user', key: '"not a user"', outcome: 'failed', reason: expect.any(String) },
    ]);
    expect(real.problems.filter((p) => p.message.startsWith('User'))).toHaveLength(4);
    expect(
      users.map((u) => [u.username, u.passwordHash, u.disabled, u.groups.map((g) => g.name)]),
    ).toEqual([
      ['alice', null, false, ['api-users']],
      ['bob', null, true, ['api-users', 'auditors']],
    ]);
  });

  it('a migrated user with hostile text in any field fails as an item, never the import', async () => {
    const fields = ['username', 'displayName', 'email'] as const;
    const hostile = ['\uD800', 'a\u0000b', `x${'\uDFFF'}@example.com`];
    const input = fields.flatMap((field, f) =>
      hostile.map((text, h) => migrated(`user${f}${h}`, { [field]: text })),
    );
    input.push(migrated('grouped', { groups: ['api-users', '\uDBFF'] }));
    const report = await importUsers(['api-users'], input, false);
    const outcomes = report.items!.filter((i) => i.target === 'user');
    expect(outcomes).toHaveLength(input.length);
    for (const outcome of outcomes) expect(outcome.outcome).toBe('failed');
    expect(users).toEqual([]);
  });

  it('a second import updates what differs, skips what is equal, and never moves warden-admins membership', async () => {
    await importUsers(
      ['api-users', 'warden-admins'],
      [migrated('alice'), migrated('root', { groups: [] })],
      false,
    );
    const admins = groups.find((g) => g.name === 'warden-admins')!;
    users.find((u) => u.username === 'root')!.groups.push(admins);

    const report = await importUsers(
      ['api-users', 'warden-admins'],
      [
        migrated('ALICE', { disabled: true, groups: ['api-users', 'warden-admins'] }),
        migrated('root', { groups: [] }),
      ],
      false,
    );
    expect(report.items!.filter((i) => i.target === 'user')).toEqual([
      {
        target: 'user',
        key: 'ALICE',
        outcome: 'updated',
        reason: expect.stringContaining('warden-admins membership is not migrated'),
      },
      // Unchanged but for warden-admins, which stays as it is here: said, not done.
      {
        target: 'user',
        key: 'root',
        outcome: 'skipped',
        reason: expect.stringContaining('warden-admins membership is not migrated'),
      },
    ]);
    const alice = users.find((u) => u.usernameKey === 'alice')!;
    expect(alice.disabled).toBe(true);
    expect(alice.groups.map((g) => g.name)).toEqual(['api-users']);
    expect(revoked).toEqual([alice.id]);
    expect(users.find((u) => u.username === 'root')!.groups.map((g) => g.name)).toEqual([
      'warden-admins',
    ]);
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
