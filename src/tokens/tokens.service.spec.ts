import { Logger } from '@nestjs/common';
import { CONTEXT, DAY, NOW, stored, tokensServiceSpec } from '../../test/support/tokens';
import { LAST_USED_WRITE_INTERVAL_MS, TokensService } from './tokens.service';

describe(TokensService.name, () => {
  const spec = tokensServiceSpec();
  let { sut, clock, repository, directory, revocations, audit } = spec;
  beforeEach(() => ({ sut, clock, repository, directory, revocations, audit } = spec));

  it('tells the revocation service where revoked tokens are found', async () => {
    const since = new Date(NOW - 1000);
    repository.revokedSince.mockResolvedValue([{ id: 'token-9', revokedAt: new Date(NOW) }]);
    const [source] = revocations.addSource.mock.calls[0];
    await expect(source(since)).resolves.toEqual([{ id: 'token-9', revokedAt: new Date(NOW) }]);
    expect(repository.revokedSince).toHaveBeenCalledWith(since);
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
