import { randomUUID } from 'node:crypto';
import { AuditSink } from '../audit/audit.port';
import { Clock } from '../common/clock';
import { DomainError } from '../common/problem/domain-error';
import { RequestMeta } from '../common/request-meta';
import { WardenConfig } from '../config/warden-config';
import { AuthService } from './auth.service';
import { UserCache } from './directory/user-cache';
import { RefreshSessionEntity } from './sessions/refresh-session.entity';
import { SessionsRepository } from './sessions/sessions.repository';
import { SessionsService } from './sessions/sessions.service';
import { DEFAULT_SETTINGS, Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';
import { hashJti, WardenClaims, WardenTokens } from './warden-tokens.service';
import { strict } from '../../test/support/strict-mock';

const meta: RequestMeta = {
  ip: '203.0.113.9',
  userAgent: 'spec',
  requestId: 'r1',
  method: 'GET',
  path: '/system/reauth',
};
const NOW = 1_800_000_000_000;

describe(AuthService.name, () => {
  let sessions: { findById: jest.Mock; rotate: jest.Mock; touch: jest.Mock; insert: jest.Mock };
  let sessionService: { revoke: jest.Mock };
  let audit: { record: jest.Mock };
  let settings: Settings;
  let clock: Clock;
  let sut: AuthService;
  let issued: number;

  const userId = randomUUID();
  const sessionId = randomUUID();

  function session(overrides: Partial<RefreshSessionEntity> = {}): RefreshSessionEntity {
    return Object.assign(new RefreshSessionEntity(), {
      id: sessionId,
      userId,
      authMethod: 'basic',
      generation: 1,
      currentJtiHash: hashJti('jti-current'),
      previousJtiHash: null,
      rotatedAt: null,
      successorSealed: null,
      createdAt: new Date(NOW - 60_000),
      lastUsedAt: new Date(NOW - 60_000),
      expiresAt: new Date(NOW + 3_600_000),
      ip: null,
      userAgent: null,
      revokedAt: null,
      revokedReason: null,
      ...overrides,
    });
  }

  const claims = (jti: string): WardenClaims => ({
    iss: 'i',
    sub: userId,
    aud: 'a',
    exp: NOW / 1000 + 60,
    iat: NOW / 1000,
    jti,
    sid: sessionId,
  });

  beforeEach(() => {
    issued = 0;
    sessions = { findById: jest.fn(), rotate: jest.fn(), touch: jest.fn(), insert: jest.fn() };
    sessionService = { revoke: jest.fn().mockResolvedValue(true) };
    audit = { record: jest.fn() };
    settings = structuredClone(DEFAULT_SETTINGS);
    // Rotation is opt-in; most cases here are about it. The default is tested on its own below.
    settings.tokens.rotateRefreshTokens = true;
    clock = { now: () => NOW } as Clock;
    const tokens = strict<WardenTokens>({
      issue: jest.fn((kind: string, sub: string, sid: string, ttl: number) => {
        issued++;
        return {
          token: `${kind}-${issued}`,
          claims: {
            iss: 'i',
            sub,
            aud: kind,
            exp: NOW / 1000 + ttl,
            iat: NOW / 1000,
            jti: `jti-${issued}`,
            sid,
          },
        };
      }),
    });
    const users = strict<UserCache>({
      get: jest
        .fn()
        .mockResolvedValue({ id: userId, username: 'alice', groups: [], disabled: false }),
    });
    const config = { encryptionKey: { key: Buffer.alloc(32, 7) } } as WardenConfig;
    sut = new AuthService(
      tokens,
      strict<SessionsRepository>(sessions),
      strict<SessionsService>(sessionService),
      users,
      { get: () => settings } as SettingsService,
      strict<AuditSink>(audit),
      clock,
      config,
    );
  });

  it('rotates the current token once: new pair, CAS on the presented hash', async () => {
    sessions.findById.mockResolvedValue(session());
    sessions.rotate.mockResolvedValue(true);
    const pair = await sut.reauth(claims('jti-current'), meta);
    expect(pair).toEqual({
      authentication: expect.stringMatching(/^access-/),
      refresh: expect.stringMatching(/^refresh-/),
    });
    expect(sessions.rotate).toHaveBeenCalledWith(
      sessionId,
      hashJti('jti-current'),
      expect.objectContaining({ ip: meta.ip, successorSealed: expect.stringMatching(/^v1\./) }),
    );
    expect(audit.record).toHaveBeenCalledWith(
      expect.objectContaining({ event: 'auth.refreshed', outcome: 'success' }),
    );
  });

  it("a lost race answers with the winner's sealed successor", async () => {
    // Let one real rotation produce the sealed successor, then replay it as the row a loser re-reads.
    sessions.findById.mockResolvedValueOnce(session());
    sessions.rotate.mockResolvedValueOnce(true);
    const winner = await sut.reauth(claims('jti-current'), meta);
    const sealed = sessions.rotate.mock.calls[0][2].successorSealed as string;

    const rotated = session({
      currentJtiHash: hashJti('jti-next'),
      previousJtiHash: hashJti('jti-current'),
      rotatedAt: new Date(NOW),
      successorSealed: sealed,
      generation: 2,
    });
    sessions.findById.mockResolvedValueOnce(session()).mockResolvedValueOnce(rotated);
    sessions.rotate.mockResolvedValueOnce(false);
    const loser = await sut.reauth(claims('jti-current'), meta);
    expect(loser).toEqual(winner);
    expect(sessionService.revoke).not.toHaveBeenCalled();
  });

  it('grace window: the same successor up to reuseGraceSeconds, a family revocation after', async () => {
    sessions.findById.mockResolvedValueOnce(session());
    sessions.rotate.mockResolvedValueOnce(true);
    const first = await sut.reauth(claims('jti-current'), meta);
    const sealed = sessions.rotate.mock.calls[0][2].successorSealed as string;
    const rotated = session({
      currentJtiHash: hashJti('jti-next'),
      previousJtiHash: hashJti('jti-current'),
      rotatedAt: new Date(NOW),
      successorSealed: sealed,
      generation: 2,
    });

    clock.now = () => NOW + DEFAULT_SETTINGS.tokens.reuseGraceSeconds * 1000;
    sessions.findById.mockResolvedValueOnce(rotated);
    await expect(sut.reauth(claims('jti-current'), meta)).resolves.toEqual(first);

    clock.now = () => NOW + DEFAULT_SETTINGS.tokens.reuseGraceSeconds * 1000 + 1;
    sessions.findById.mockResolvedValueOnce(rotated);
    await expect(sut.reauth(claims('jti-current'), meta)).rejects.toMatchObject({
      status: 401,
      code: 'invalid_refresh_token',
    });
    expect(sessionService.revoke).toHaveBeenCalledWith(sessionId, 'refresh_reuse');
    expect(audit.record).toHaveBeenCalledWith(
      expect.objectContaining({ event: 'auth.refresh_reuse_detected', outcome: 'denied' }),
    );
  });

  it('a sealed successor bound to another predecessor is not handed out', async () => {
    sessions.findById.mockResolvedValueOnce(session());
    sessions.rotate.mockResolvedValueOnce(true);
    await sut.reauth(claims('jti-current'), meta);
    const sealed = sessions.rotate.mock.calls[0][2].successorSealed as string;
    // The row claims jti-other was the predecessor: the seal's context no longer matches.
    sessions.findById.mockResolvedValueOnce(
      session({
        currentJtiHash: hashJti('x'),
        previousJtiHash: hashJti('jti-other'),
        rotatedAt: new Date(NOW),
        successorSealed: sealed,
      }),
    );
    await expect(sut.reauth(claims('jti-other'), meta)).rejects.toBeInstanceOf(DomainError);
    expect(sessionService.revoke).toHaveBeenCalled();
  });

  it('an older generation is a reuse even inside the grace window', async () => {
    sessions.findById.mockResolvedValue(
      session({
        currentJtiHash: hashJti('gen3'),
        previousJtiHash: hashJti('gen2'),
        rotatedAt: new Date(NOW),
        successorSealed: 'v1.x.y.z',
      }),
    );
    await expect(sut.reauth(claims('gen1'), meta)).rejects.toMatchObject({ status: 401 });
    expect(sessionService.revoke).toHaveBeenCalledWith(sessionId, 'refresh_reuse');
  });

  it('by default (rotation off) the refresh token stays and only an access token is returned', async () => {
    settings.tokens.rotateRefreshTokens = DEFAULT_SETTINGS.tokens.rotateRefreshTokens;
    expect(settings.tokens.rotateRefreshTokens).toBe(false);
    sessions.findById.mockResolvedValue(session());
    sessions.touch.mockResolvedValue(undefined);
    const result = await sut.reauth(claims('jti-current'), meta);
    expect(result).toEqual({ authentication: expect.stringMatching(/^access-/) });
    expect(sessions.touch).toHaveBeenCalledWith(sessionId, new Date(NOW), meta.ip, meta.userAgent);
  });

  it('refuses revoked sessions, unknown sessions and sessions of another subject without touching them', async () => {
    sessions.findById.mockResolvedValueOnce(session({ revokedAt: new Date(NOW - 1) }));
    await expect(sut.reauth(claims('jti-current'), meta)).rejects.toMatchObject({ status: 401 });
    sessions.findById.mockResolvedValueOnce(null);
    await expect(sut.reauth(claims('jti-current'), meta)).rejects.toMatchObject({ status: 401 });
    sessions.findById.mockResolvedValueOnce(session({ userId: randomUUID() }));
    await expect(sut.reauth(claims('jti-current'), meta)).rejects.toMatchObject({ status: 401 });
    expect(sessions.rotate).not.toHaveBeenCalled();
    expect(sessionService.revoke).not.toHaveBeenCalled();
  });

  it('login stores only the hash of the refresh jti, with the TTLs in force', async () => {
    settings.tokens = { ...settings.tokens, accessTtlSeconds: 120, refreshTtlSeconds: 3600 };
    sessions.insert.mockResolvedValue(undefined);
    const pair = await sut.login({ id: userId, username: 'alice' }, 'basic', meta);
    expect(pair).toEqual({ authentication: 'access-2', refresh: 'refresh-1' });
    const row = sessions.insert.mock.calls[0][0] as RefreshSessionEntity;
    expect(row.currentJtiHash).toBe(hashJti('jti-1'));
    expect(row.expiresAt.getTime()).toBe(NOW + 3600_000);
    expect(row.ip).toBe(meta.ip);
  });
});
