import { LocalInvalidationBus } from '../../common/invalidation/invalidation-bus';
import { MAX_ACCESS_TTL_SECONDS } from '../../settings/settings.defaults';
import { REVOCATION_HORIZON_MS, RevocationService } from './revocation.service';
import { SessionsRepository } from './sessions.repository';

const START = Date.parse('2026-11-25T12:00:00Z');
const MINUTE = 60_000;

/** Sessions revoked at given instants, answered as the repository answers `revokedSince`. */
function storage(revoked: { id: string; revokedAt: Date }[]): SessionsRepository {
  return {
    revokedSince: async (since: Date) => revoked.filter((r) => r.revokedAt > since),
  } as unknown as SessionsRepository;
}

describe('RevocationService', () => {
  beforeEach(() => jest.useFakeTimers({ now: START }));
  afterEach(() => jest.useRealTimers());

  it('remembers a revocation as long as the longest-lived access token, whatever the lifetime now', async () => {
    const sut = new RevocationService(storage([]), new LocalInvalidationBus());
    await sut.onModuleInit();
    try {
      sut.markRevoked(['session-1']);
      // An access token issued with the longest lifetime before the revocation is still
      // within its life just before the horizon: the revocation must still be there.
      await jest.advanceTimersByTimeAsync(MAX_ACCESS_TTL_SECONDS * 1000 - MINUTE);
      expect(sut.isRevoked('session-1')).toBe(true);
      // Past the horizon (and a trim), nothing can refer to it any more.
      await jest.advanceTimersByTimeAsync(REVOCATION_HORIZON_MS + 2 * MINUTE);
      expect(sut.isRevoked('session-1')).toBe(false);
    } finally {
      sut.onModuleDestroy();
    }
  });

  it('after a restart, reads back revocations as old as the horizon', async () => {
    const revoked = [
      { id: 'recent', revokedAt: new Date(START - 30 * MINUTE) },
      { id: 'hours-ago', revokedAt: new Date(START - 20 * 60 * MINUTE) },
      { id: 'too-old', revokedAt: new Date(START - REVOCATION_HORIZON_MS - MINUTE) },
    ];
    const sut = new RevocationService(storage(revoked), new LocalInvalidationBus());
    await sut.onModuleInit();
    try {
      expect(sut.isRevoked('recent')).toBe(true);
      expect(sut.isRevoked('hours-ago')).toBe(true);
      expect(sut.isRevoked('too-old')).toBe(false);
    } finally {
      sut.onModuleDestroy();
    }
  });
});
