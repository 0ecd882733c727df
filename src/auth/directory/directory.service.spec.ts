import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { AuditSink } from '../../audit/audit.port';
import { DomainError } from '../../common/problem/domain-error';
import { WardenConfig } from '../../config/warden-config';
import { SessionsService } from '../sessions/sessions.service';
import { DirectoryService } from './directory.service';
import { CreateGroupDto } from './dto/directory.dto';
import { GroupEntity } from './group.entity';
import { GROUP_NAME_MESSAGE, isValidGroupName } from './group-name';
import { PasswordHasher } from './password-hasher';
import { UserCache } from './user-cache';
import { GroupsRepository, UsersRepository } from './users.repository';

const VALID = [
  'api-users',
  'Jira Users',
  'ops.team_1+eu@x',
  'Équipe-Über',
  '開発者',
  'g'.repeat(255),
];
const INVALID = [
  'bad/group\u0000',
  'bad/group',
  'nul\u0000',
  'tab\tname',
  'line\nbreak',
  '',
  'g'.repeat(256),
  'semi;colon',
  '<script>',
  'rocket🚀',
];

/** Test names: a long name by its length. */
const cases = (names: string[]) =>
  names.map((n) => [n.length > 40 ? `${n.length} characters` : JSON.stringify(n), n]);

describe(DirectoryService.name, () => {
  let saved: GroupEntity[];
  let recorded: string[];
  let sut: DirectoryService;

  beforeEach(() => {
    saved = [];
    recorded = [];
    const groups = {
      save: jest.fn(async (group: GroupEntity) => {
        saved.push(group);
        return group;
      }),
    } as unknown as GroupsRepository;
    const audit = {
      record: jest.fn((e: { event: string }) => void recorded.push(e.event)),
    } as unknown as AuditSink;
    sut = new DirectoryService(
      {} as UsersRepository,
      groups,
      {} as PasswordHasher,
      {} as UserCache,
      {} as SessionsService,
      audit,
      {} as WardenConfig,
    );
  });

  describe('createGroup', () => {
    it.each(cases(VALID))('creates %s', async (_, name) => {
      const view = await sut.createGroup({ name }, { username: 'admin' });
      expect(view.name).toBe(name);
      expect(saved.map((g) => g.nameKey)).toEqual([name.toLowerCase()]);
      expect(recorded).toEqual(['group.created']);
    });

    it.each(INVALID)('refuses %j with the 400 the API gives, storing nothing', async (name) => {
      const err = await sut.createGroup({ name }, { username: 'admin' }).catch((e) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ status: 400, code: 'validation_failed' });
      expect(err.extras.fields.errors).toEqual([{ field: 'name', messages: [GROUP_NAME_MESSAGE] }]);
      expect(saved).toEqual([]);
      expect(recorded).toEqual([]);
    });
  });

  it('the DTO follows the same rule', () => {
    for (const name of [...VALID, ...INVALID, 42, null]) {
      const errors = validateSync(plainToInstance(CreateGroupDto, { name }));
      expect({ name, valid: errors.length === 0 }).toEqual({
        name,
        valid: isValidGroupName(name),
      });
    }
    expect(validateSync(plainToInstance(CreateGroupDto, { name: 'a/b' }))[0].constraints).toEqual({
      isGroupName: GROUP_NAME_MESSAGE,
    });
  });
});
