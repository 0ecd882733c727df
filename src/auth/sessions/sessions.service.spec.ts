import { strict } from '../../../test/support/strict-mock';
import { RefreshSessionEntity } from './refresh-session.entity';
import { RevocationService } from './revocation.service';
import { SessionsRepository } from './sessions.repository';
import { SessionsService } from './sessions.service';

const T = Date.parse('2026-12-01T09:00:00Z');

function session(overrides: Partial<RefreshSessionEntity> = {}): RefreshSessionEntity {
  return Object.assign(new RefreshSessionEntity(), {
    id: 's1',
    userId: 'u-alice',
    authMethod: 'basic',
    createdAt: new Date(T - 3_600_000),
    lastUsedAt: new Date(T - 60_000),
    expiresAt: new Date(T + 3_600_000),
    ip: '203.0.113.7',
    userAgent: 'curl/8',
    revokedAt: null,
    ...overrides,
  });
}

describe(SessionsService.name, () => {
  let sessions: {
    listLive: jest.Mock;
    revoke: jest.Mock;
    findById: jest.Mock;
    revokeAllForUser: jest.Mock;
  };
  let revocations: { markRevoked: jest.Mock };
  let sut: SessionsService;

  beforeEach(() => {
    sessions = {
      listLive: jest.fn(),
      revoke: jest.fn(async () => true),
      findById: jest.fn(),
      revokeAllForUser: jest.fn(),
    };
    revocations = { markRevoked: jest.fn() };
    sut = new SessionsService(
      strict<SessionsRepository>(sessions),
      strict<RevocationService>(revocations),
    );
  });

  it("lists the user's live sessions, marking the caller's own", async () => {
    sessions.listLive.mockResolvedValue([
      session(),
      session({ id: 's2', ip: null, userAgent: null }),
    ]);
    const views = await sut.list('u-alice', 's2');
    expect(sessions.listLive).toHaveBeenCalledWith('u-alice', expect.any(Date));
    expect(views).toEqual([
      {
        id: 's1',
        authMethod: 'basic',
        createdAt: new Date(T - 3_600_000).toISOString(),
        lastUsedAt: new Date(T - 60_000).toISOString(),
        expiresAt: new Date(T + 3_600_000).toISOString(),
        ip: '203.0.113.7',
        userAgent: 'curl/8',
        current: false,
      },
      expect.objectContaining({ id: 's2', ip: null, userAgent: null, current: true }),
    ]);
  });

  it('marks no session as current for a caller without one', async () => {
    sessions.listLive.mockResolvedValue([session()]);
    expect((await sut.list('u-alice'))[0].current).toBe(false);
  });

  it('ends a session in storage and at once on this instance', async () => {
    await expect(sut.revoke('s1', 'admin_revoked')).resolves.toBe(true);
    expect(sessions.revoke).toHaveBeenCalledWith('s1', 'admin_revoked', expect.any(Date));
    expect(revocations.markRevoked).toHaveBeenCalledWith(['s1']);
  });

  it("ends one of the caller's own sessions", async () => {
    sessions.findById.mockResolvedValue(session());
    await sut.revokeOwn('u-alice', 's1');
    expect(sessions.revoke).toHaveBeenCalledWith('s1', 'user_revoked', expect.any(Date));
    expect(revocations.markRevoked).toHaveBeenCalledWith(['s1']);
  });

  it.each([
    ['no such session', null],
    ["another user's session", session({ userId: 'u-bob' })],
    ['a session ended already', session({ revokedAt: new Date(T - 1) })],
  ])('answers 404 for %s, ending nothing', async (_name, found) => {
    sessions.findById.mockResolvedValue(found);
    await expect(sut.revokeOwn('u-alice', 's1')).rejects.toMatchObject({
      status: 404,
      code: 'session_not_found',
    });
    expect(sessions.revoke).not.toHaveBeenCalled();
    expect(revocations.markRevoked).not.toHaveBeenCalled();
  });

  it('ends every session of a user and counts them', async () => {
    sessions.revokeAllForUser.mockResolvedValue(['s1', 's2']);
    await expect(sut.revokeAllForUser('u-alice', 'password_changed')).resolves.toBe(2);
    expect(sessions.revokeAllForUser).toHaveBeenCalledWith(
      'u-alice',
      'password_changed',
      expect.any(Date),
    );
    expect(revocations.markRevoked).toHaveBeenCalledWith(['s1', 's2']);
  });
});
