import { DomainError } from '../common/problem/domain-error';
import { ADMIN_GROUP, Principal } from '../common/principal';
import { Settings } from '../settings/settings.defaults';
import {
  ADMIN,
  CONTEXT,
  DAY,
  dto,
  NOW,
  principal,
  tokensServiceSpec,
} from '../../test/support/tokens';
import { CreateTokenDto } from './dto/tokens.dto';
import { displayPrefix, hashApiToken, isWellFormedApiToken } from './api-token-format';
import { TokensService } from './tokens.service';

describe(TokensService.name, () => {
  const spec = tokensServiceSpec();
  let { sut, settings, repository, audit } = spec;
  beforeEach(() => ({ sut, settings, repository, audit } = spec));

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
});
