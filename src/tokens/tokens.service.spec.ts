import { Logger } from '@nestjs/common';
import { AuditSink } from '../audit/audit.port';
import { DirectoryService } from '../auth/directory/directory.service';
import { RevocationService } from '../auth/sessions/revocation.service';
import { Clock } from '../common/clock';
import { DomainError } from '../common/problem/domain-error';
import { ADMIN_GROUP, Principal } from '../common/principal';
import { DEFAULT_SETTINGS, Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';
import { strict } from '../../test/support/strict-mock';
import { ApiTokenEntity } from './api-token.entity';
import { displayPrefix, hashApiToken, isWellFormedApiToken } from './api-token-format';
import { ApiTokensRepository } from './api-tokens.repository';
import { CreateTokenDto } from './dto/tokens.dto';
import { LAST_USED_WRITE_INTERVAL_MS, TokensService } from './tokens.service';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const DAY = 86_400_000;
const CONTEXT = { requestId: 'r1', ip: '203.0.113.7' };

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    id: 'u-alice',
    username: 'alice',
    groups: ['staff'],
    authMethod: 'access',
    credentialId: 'session-1',
    scopes: ['read', 'write', 'admin'],
    ...overrides,
  };
}
const ADMIN = principal({ id: 'u-admin', username: 'admin', groups: [ADMIN_GROUP] });

function stored(overrides: Partial<ApiTokenEntity> = {}): ApiTokenEntity {
  return Object.assign(new ApiTokenEntity(), {
    id: 'token-1',
    userId: 'u-alice',
    name: 'nightly',
    tokenHash: 'h',
    displayPrefix: 'wdn_abcd',
    scopes: 'read',
    createdAt: new Date(NOW - 10 * DAY),
    expiresAt: new Date(NOW + 10 * DAY),
    lastUsedAt: null,
    lastUsedIp: null,
    revokedAt: null,
    ...overrides,
  });
}

const dto = (overrides: Partial<CreateTokenDto> = {}): CreateTokenDto =>
  Object.assign(new CreateTokenDto(), { name: 'nightly', ...overrides });

describe(TokensService.name, () => {
  let settings: Settings;
  let clock: MovableClock;
  let repository: {
    insertWithinLimit: jest.Mock;
    listForUser: jest.Mock;
    findForUser: jest.Mock;
    revoke: jest.Mock;
    revokeAllForUser: jest.Mock;
    revokedSince: jest.Mock;
    recordUse: jest.Mock;
    removeStale: jest.Mock;
    findByHash: jest.Mock;
  };
  let directory: { findByUsername: jest.Mock };
  let revocations: { addSource: jest.Mock; markRevoked: jest.Mock };
  let audit: { record: jest.Mock };
  let sut: TokensService;

  beforeEach(() => {
    settings = structuredClone(DEFAULT_SETTINGS);
    clock = new MovableClock();
    repository = {
      insertWithinLimit: jest.fn(async () => true),
      listForUser: jest.fn(),
      findForUser: jest.fn(),
      revoke: jest.fn(async () => true),
      revokeAllForUser: jest.fn(),
      revokedSince: jest.fn(),
      recordUse: jest.fn(async () => undefined),
      removeStale: jest.fn(async () => 3),
      findByHash: jest.fn(),
    };
    directory = { findByUsername: jest.fn() };
    revocations = { addSource: jest.fn(), markRevoked: jest.fn() };
    audit = { record: jest.fn() };
    sut = new TokensService(
      strict<ApiTokensRepository>(repository),
      strict<DirectoryService>(directory),
      strict<RevocationService>(revocations),
      strict<SettingsService>({ get: jest.fn(() => settings) }),
      strict<AuditSink>(audit),
      clock,
    );
  });

  it('tells the revocation service where revoked tokens are found', async () => {
    const since = new Date(NOW - 1000);
    repository.revokedSince.mockResolvedValue([{ id: 'token-9', revokedAt: new Date(NOW) }]);
    const [source] = revocations.addSource.mock.calls[0];
    await expect(source(since)).resolves.toEqual([{ id: 'token-9', revokedAt: new Date(NOW) }]);
    expect(repository.revokedSince).toHaveBeenCalledWith(since);
  });

  describe('create', () => {
    it('issues a well-formed token whose hash alone is stored, and records it', async () => {
      const created = await sut.create(principal(), dto({ expiresInDays: 30 }), CONTEXT);
      expect(isWellFormedApiToken(created.token)).toBe(true);
      const [entity, maxPerUser, now] = repository.insertWithinLimit.mock.calls[0];
      expect(entity).toMatchObject({
        userId: 'u-alice',
        name: 'nightly',
        tokenHash: hashApiToken(created.token),
        displayPrefix: displayPrefix(created.token),
        scopes: 'read,write',
        createdAt: new Date(NOW),
        expiresAt: new Date(NOW + 30 * DAY),
        revokedAt: null,
      });
      expect(JSON.stringify(entity)).not.toContain(created.token);
      expect(maxPerUser).toBe(settings.apiTokens.maxPerUser);
      expect(now).toEqual(new Date(NOW));
      expect(created).toEqual({
        id: entity.id,
        name: 'nightly',
        prefix: displayPrefix(created.token),
        scopes: ['read', 'write'],
        createdAt: new Date(NOW).toISOString(),
        expiresAt: new Date(NOW + 30 * DAY).toISOString(),
        lastUsedAt: null,
        lastUsedIp: null,
        revokedAt: null,
        status: 'active',
        token: created.token,
      });
      expect(audit.record).toHaveBeenCalledTimes(1);
      const [event] = audit.record.mock.calls[0];
      expect(event).toMatchObject({
        event: 'token.created',
        actor: 'alice',
        credentialId: entity.id,
        requestId: 'r1',
        ip: '203.0.113.7',
        details: { tokenId: entity.id, scopes: ['read', 'write'], userId: 'u-alice' },
      });
      expect(JSON.stringify(event)).not.toContain(created.token);
    });

    it('lives as long as the settings allow by default, with each scope once', async () => {
      settings.apiTokens.maxLifetimeDays = 7;
      const created = await sut.create(principal(), dto({ scopes: ['read', 'read'] }), CONTEXT);
      expect(created.expiresAt).toBe(new Date(NOW + 7 * DAY).toISOString());
      expect(created.scopes).toEqual(['read']);
    });

    it('gives every token a secret and an id of its own', async () => {
      const a = await sut.create(principal(), dto(), CONTEXT);
      const b = await sut.create(principal(), dto(), CONTEXT);
      expect(a.token).not.toBe(b.token);
      expect(a.id).not.toBe(b.id);
    });

    type Refusal = [
      string,
      Principal,
      Partial<CreateTokenDto>,
      (s: Settings) => void,
      number,
      string,
    ];
    const none = () => undefined;
    const rows: Refusal[] = [
      [
        "an identity provider's caller, even an admin with tokens off",
        principal({ authMethod: 'external', groups: [ADMIN_GROUP] }),
        {},
        (s) => (s.apiTokens.enabled = false),
        403,
        'external_token_not_allowed',
      ],
      [
        'an admin while tokens are off',
        ADMIN,
        {},
        (s) => (s.apiTokens.enabled = false),
        403,
        'api_tokens_disabled',
      ],
      [
        'a user while only admins may create them, before the group rule',
        principal(),
        {},
        (s) => {
          s.apiTokens.usersCanCreate = false;
          s.groups.tokenCreators = ['creators'];
        },
        403,
        'token_creation_disabled',
      ],
      [
        'a user outside groups.tokenCreators, before the scope rule',
        principal(),
        { scopes: ['admin'] },
        (s) => (s.groups.tokenCreators = ['creators']),
        403,
        'not_in_token_creators_group',
      ],
      [
        'a user asking for the admin scope, before the lifetime rule',
        principal(),
        { scopes: ['read', 'admin'], expiresInDays: 3650 },
        none,
        403,
        'scope_not_allowed',
      ],
      [
        'a lifetime over apiTokens.maxLifetimeDays',
        ADMIN,
        { expiresInDays: 31 },
        (s) => (s.apiTokens.maxLifetimeDays = 30),
        400,
        'lifetime_too_long',
      ],
    ];

    it.each(rows)('refuses %s', async (_name, who, body, change, status, code) => {
      change(settings);
      const err = await sut.create(who, dto(body), CONTEXT).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ status, code });
      expect(audit.record).not.toHaveBeenCalled();
    });

    it.each([
      [
        'an admin while only admins may create them',
        ADMIN,
        (s: Settings) => (s.apiTokens.usersCanCreate = false),
      ],
      [
        'an admin outside groups.tokenCreators',
        ADMIN,
        (s: Settings) => (s.groups.tokenCreators = ['creators']),
      ],
      [
        'a member of groups.tokenCreators, in any case',
        principal({ groups: ['Creators'] }),
        (s: Settings) => (s.groups.tokenCreators = ['CREATORS']),
      ],
    ])('lets %s create one', async (_name, who, change) => {
      change(settings);
      await expect(sut.create(who, dto(), CONTEXT)).resolves.toMatchObject({ status: 'active' });
    });

    it('lets an admin give a token the admin scope', async () => {
      const created = await sut.create(ADMIN, dto({ scopes: ['admin'] }), CONTEXT);
      expect(created.scopes).toEqual(['admin']);
    });

    it('refuses a token beyond apiTokens.maxPerUser with 409, recording nothing', async () => {
      settings.apiTokens.maxPerUser = 2;
      repository.insertWithinLimit.mockResolvedValue(false);
      const err = await sut.create(principal(), dto(), CONTEXT).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 409, code: 'token_limit_reached' });
      expect((err as DomainError).detail).toContain('2 live tokens');
      expect(repository.insertWithinLimit.mock.calls[0][1]).toBe(2);
      expect(audit.record).not.toHaveBeenCalled();
    });
  });

  describe('list', () => {
    it("shows each token's state as of now", async () => {
      repository.listForUser.mockResolvedValue([
        stored({ id: 'live' }),
        stored({ id: 'expired', expiresAt: new Date(NOW) }),
        stored({ id: 'revoked', revokedAt: new Date(NOW - DAY), expiresAt: new Date(NOW - 1) }),
        stored({
          id: 'used',
          scopes: 'read,write',
          lastUsedAt: new Date(NOW - 1000),
          lastUsedIp: '198.51.100.2',
        }),
      ]);
      const views = await sut.list('u-alice');
      expect(repository.listForUser).toHaveBeenCalledWith('u-alice');
      expect(views.map((v) => [v.id, v.status])).toEqual([
        ['live', 'active'],
        ['expired', 'expired'],
        ['revoked', 'revoked'],
        ['used', 'active'],
      ]);
      expect(views[3]).toMatchObject({
        scopes: ['read', 'write'],
        lastUsedAt: new Date(NOW - 1000).toISOString(),
        lastUsedIp: '198.51.100.2',
        prefix: 'wdn_abcd',
      });
      expect(views[2].revokedAt).toBe(new Date(NOW - DAY).toISOString());
    });

    it('finds the user by name, or answers 404', async () => {
      directory.findByUsername.mockResolvedValueOnce({ id: 'u-bob' }).mockResolvedValueOnce(null);
      repository.listForUser.mockResolvedValue([]);
      await expect(sut.listForUsername('bob')).resolves.toEqual([]);
      expect(repository.listForUser).toHaveBeenCalledWith('u-bob');
      await expect(sut.listForUsername('nobody')).rejects.toMatchObject({
        status: 404,
        code: 'user_not_found',
      });
    });
  });

  describe('revoke', () => {
    it('revokes the token at once on this instance and records who did it', async () => {
      repository.findForUser.mockResolvedValue(stored());
      await sut.revoke('u-alice', 'token-1', 'admin', CONTEXT);
      expect(repository.findForUser).toHaveBeenCalledWith('u-alice', 'token-1');
      expect(repository.revoke).toHaveBeenCalledWith('token-1', new Date(NOW));
      expect(revocations.markRevoked).toHaveBeenCalledWith(['token-1']);
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({
          event: 'token.revoked',
          actor: 'admin',
          credentialId: 'token-1',
        }),
      );
    });

    it.each([
      ['another user’s or no token', null],
      ['a token revoked already', stored({ revokedAt: new Date(NOW - DAY) })],
    ])('answers 404 for %s, changing nothing', async (_name, found) => {
      repository.findForUser.mockResolvedValue(found);
      await expect(sut.revoke('u-alice', 'token-1', 'alice', CONTEXT)).rejects.toMatchObject({
        status: 404,
        code: 'token_not_found',
      });
      expect(repository.revoke).not.toHaveBeenCalled();
      expect(revocations.markRevoked).not.toHaveBeenCalled();
      expect(audit.record).not.toHaveBeenCalled();
    });

    it('revokes by username', async () => {
      directory.findByUsername.mockResolvedValue({ id: 'u-bob' });
      repository.findForUser.mockResolvedValue(stored({ userId: 'u-bob' }));
      await sut.revokeForUsername('bob', 'token-1', 'admin', CONTEXT);
      expect(repository.findForUser).toHaveBeenCalledWith('u-bob', 'token-1');
    });

    it('revokes all of a user’s tokens, recording one event for them', async () => {
      repository.revokeAllForUser.mockResolvedValue(['t1', 't2']);
      await expect(sut.revokeAll('u-alice', 'admin', CONTEXT)).resolves.toBe(2);
      expect(repository.revokeAllForUser).toHaveBeenCalledWith('u-alice', new Date(NOW));
      expect(revocations.markRevoked).toHaveBeenCalledWith(['t1', 't2']);
      expect(audit.record.mock.calls).toEqual([
        [
          {
            event: 'token.revoked',
            outcome: 'success',
            actor: 'admin',
            requestId: 'r1',
            ip: '203.0.113.7',
            details: { tokenIds: ['t1', 't2'], all: true },
          },
        ],
      ]);
    });

    it('records nothing when there was nothing to revoke', async () => {
      repository.revokeAllForUser.mockResolvedValue([]);
      directory.findByUsername.mockResolvedValue({ id: 'u-bob' });
      await expect(sut.revokeAllForUsername('bob', 'admin', CONTEXT)).resolves.toBe(0);
      expect(repository.revokeAllForUser).toHaveBeenCalledWith('u-bob', new Date(NOW));
      expect(audit.record).not.toHaveBeenCalled();
    });
  });

  describe('recordUse', () => {
    it('writes the last use at most once a minute per token', () => {
      sut.recordUse('token-1', '203.0.113.7');
      clock.at = NOW + LAST_USED_WRITE_INTERVAL_MS - 1;
      sut.recordUse('token-1', '203.0.113.8');
      sut.recordUse('token-2', '203.0.113.9');
      clock.at = NOW + LAST_USED_WRITE_INTERVAL_MS;
      sut.recordUse('token-1', '203.0.113.10');
      expect(repository.recordUse.mock.calls).toEqual([
        ['token-1', new Date(NOW), '203.0.113.7'],
        ['token-2', new Date(NOW + LAST_USED_WRITE_INTERVAL_MS - 1), '203.0.113.9'],
        ['token-1', new Date(NOW + LAST_USED_WRITE_INTERVAL_MS), '203.0.113.10'],
      ]);
    });

    it('logs a failed write instead of failing the request', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      try {
        repository.recordUse.mockRejectedValue(new Error('database is locked'));
        expect(() => sut.recordUse('token-1', '203.0.113.7')).not.toThrow();
        await new Promise((resolve) => setImmediate(resolve));
        expect(warn).toHaveBeenCalledWith(
          expect.objectContaining({ tokenId: 'token-1' }),
          'Could not record token use',
        );
      } finally {
        warn.mockRestore();
      }
    });
  });

  it('removes expired tokens, and revoked ones past their retention', async () => {
    await expect(sut.removeStale(30)).resolves.toBe(3);
    expect(repository.removeStale).toHaveBeenCalledWith(new Date(NOW), new Date(NOW - 30 * DAY));
  });

  it('finds a token by its hash', async () => {
    const token = stored();
    repository.findByHash.mockResolvedValue(token);
    await expect(sut.findByHash('h')).resolves.toBe(token);
    expect(repository.findByHash).toHaveBeenCalledWith('h');
  });
});
