import { Logger } from '@nestjs/common';
import type { Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { SecretBox } from '../../common/crypto/secret-box';
import { WardenConfig } from '../../config/warden-config';
import { JOB_LOCKS, JobLock } from '../../common/database/job-lock';
import { strict } from '../../../test/support/strict-mock';
import { OperationStore, tokenContext } from './operation-store.service';
import { OperationEntity } from './operation.entity';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const HOUR = 3_600_000;
const KEY = Buffer.alloc(32, 3);

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An operation token as CMJ makes them: a JWS whose `exp` Warden reads but does not trust. */
const tokenExpiring = (expMs: number) =>
  `${b64({ alg: 'RS256' })}.${b64({ exp: expMs / 1000 })}.sig`;

/** The rows as the repository holds them, by id; what the store reads and writes. */
function fakeRepository(rows: Map<string, OperationEntity>) {
  return {
    findOne: jest.fn(async ({ where: { id } }: { where: { id: string } }) => {
      const row = rows.get(id);
      return row ? Object.assign(new OperationEntity(), row) : null;
    }),
    save: jest.fn(async (row: OperationEntity) => {
      rows.set(row.id, Object.assign(new OperationEntity(), row));
      return row;
    }),
    update: jest.fn(async ({ id }: { id: string }, patch: Partial<OperationEntity>) => {
      const row = rows.get(id);
      if (row) Object.assign(row, patch);
      return { affected: row ? 1 : 0 };
    }),
  };
}

describe(OperationStore.name, () => {
  let rows: Map<string, OperationEntity>;
  let repository: ReturnType<typeof fakeRepository>;
  let lock: { runAlone: jest.Mock };
  let clock: MovableClock;
  let sut: OperationStore;

  beforeEach(() => {
    rows = new Map();
    repository = fakeRepository(rows);
    lock = {
      runAlone: jest.fn(async (_id: number, work: () => Promise<void>) => (await work(), true)),
    };
    clock = new MovableClock();
    sut = new OperationStore(
      repository as unknown as Repository<OperationEntity>,
      clock,
      { encryptionKey: { key: KEY } } as unknown as WardenConfig,
      strict<JobLock>(lock),
    );
  });

  describe('begin', () => {
    it('creates a running operation with its token sealed to it', async () => {
      const { operation, created } = await sut.begin('op-1', 'export', 'token-1', false);
      expect(created).toBe(true);
      expect(operation).toMatchObject({
        id: 'op-1',
        kind: 'export',
        status: 'running',
        dryRun: false,
        summary: null,
        createdAt: new Date(NOW),
        updatedAt: new Date(NOW),
        finishedAt: null,
        tokenExpiresAt: new Date(NOW + HOUR),
      });
      expect(operation.operationToken).not.toContain('token-1');
      const box = new SecretBox(KEY);
      expect(box.openText(operation.operationToken!, tokenContext('op-1'))).toBe('token-1');
      expect(() => box.openText(operation.operationToken!, tokenContext('op-2'))).toThrow();
    });

    it.each([
      ['its exp, when sooner than a day', tokenExpiring(NOW + 10 * 60_000), NOW + 10 * 60_000],
      ['a day at most, whatever its exp', tokenExpiring(NOW + 72 * HOUR), NOW + 24 * HOUR],
      ['an hour when its exp cannot be read', 'opaque-token', NOW + HOUR],
      ['an hour when its exp is not a number', `${b64({})}.${b64({ exp: 'soon' })}.s`, NOW + HOUR],
      ['an hour when its payload is not JSON', 'a.b.c', NOW + HOUR],
    ])('keeps the token for %s', async (_name, token, until) => {
      const { operation } = await sut.begin('op-1', 'import', token, true);
      expect(operation.tokenExpiresAt).toEqual(new Date(until));
    });

    it('continues an operation called again, keeping its first token', async () => {
      await sut.begin('op-1', 'export', 'token-1', false);
      clock.at = NOW + 1000;
      const { operation, created } = await sut.begin('op-1', 'export', 'token-2', false);
      expect(created).toBe(false);
      expect(operation.updatedAt).toEqual(new Date(NOW + 1000));
      await expect(sut.token('op-1')).resolves.toBe('token-1');
    });

    it('restarts a finished operation as the call now running, with the new token', async () => {
      await sut.begin('op-1', 'export', 'token-1', false);
      await sut.end('op-1', 'succeeded', { changes: [] });
      const { operation } = await sut.begin('op-1', 'import', 'token-2', true);
      expect(operation).toMatchObject({
        kind: 'import',
        status: 'running',
        dryRun: true,
        summary: null,
        finishedAt: null,
      });
      await expect(sut.token('op-1')).resolves.toBe('token-2');
    });

    it('continues what another call created when both first calls arrive at once', async () => {
      const duplicate = Object.assign(new Error('duplicate key'), { code: '23505' });
      repository.save.mockRejectedValueOnce(duplicate);
      // The other call's row, committed meanwhile.
      repository.findOne.mockResolvedValueOnce(null).mockResolvedValueOnce(
        Object.assign(new OperationEntity(), {
          id: 'op-1',
          kind: 'export',
          status: 'running',
          operationToken: new SecretBox(KEY).seal('token-0', tokenContext('op-1')),
          tokenExpiresAt: new Date(NOW + HOUR),
        }),
      );
      const { created } = await sut.begin('op-1', 'export', 'token-1', false);
      expect(created).toBe(false);
      expect(repository.save).toHaveBeenCalledTimes(2);
    });

    it('lets any other storage failure through', async () => {
      const outage = new Error('disk full');
      repository.save.mockRejectedValueOnce(outage);
      await expect(sut.begin('op-1', 'export', 't', false)).rejects.toBe(outage);
    });

    it('takes the new token of a call that finds the first token expired but not yet swept', async () => {
      await sut.begin('op-1', 'export', tokenExpiring(NOW + 60_000), false);
      clock.at = NOW + 61_000;
      const fresh = tokenExpiring(NOW + 2 * HOUR);
      const { operation } = await sut.begin('op-1', 'import', fresh, false);
      expect(operation.tokenExpiresAt).toEqual(new Date(NOW + 2 * HOUR));
      await expect(sut.token('op-1')).resolves.toBe(fresh);
    });
  });

  describe('token', () => {
    it('answers nothing for an unknown operation or one whose token is gone', async () => {
      await expect(sut.token('op-x')).resolves.toBeNull();
      await sut.begin('op-1', 'export', 'token-1', false);
      await sut.end('op-1', 'failed', {});
      await expect(sut.token('op-1')).resolves.toBeNull();
    });

    it('wipes a token once it has expired', async () => {
      await sut.begin('op-1', 'export', tokenExpiring(NOW + 60_000), false);
      clock.at = NOW + 59_999;
      await expect(sut.token('op-1')).resolves.toEqual(expect.any(String));
      clock.at = NOW + 60_000;
      await expect(sut.token('op-1')).resolves.toBeNull();
      expect(rows.get('op-1')).toMatchObject({ operationToken: null, tokenExpiresAt: null });
    });
  });

  it('ends an operation with its summary, wiping its token', async () => {
    await sut.begin('op-1', 'import', 'token-1', false);
    clock.at = NOW + 5000;
    await sut.end('op-1', 'partial', { changes: 2 });
    expect(rows.get('op-1')).toMatchObject({
      status: 'partial',
      summary: '{"changes":2}',
      operationToken: null,
      tokenExpiresAt: null,
      updatedAt: new Date(NOW + 5000),
      finishedAt: new Date(NOW + 5000),
    });
  });

  describe('sweep', () => {
    it('wipes expired tokens on one instance at a time, and counts them', async () => {
      repository.update.mockResolvedValueOnce({ affected: 3 });
      await expect(sut.sweep()).resolves.toBe(3);
      expect(lock.runAlone).toHaveBeenCalledWith(JOB_LOCKS.spiTokenSweep, expect.any(Function));
      const [where, patch] = repository.update.mock.calls[0];
      expect(patch).toEqual({ operationToken: null, tokenExpiresAt: null });
      expect(Object.keys(where).sort()).toEqual(['operationToken', 'tokenExpiresAt']);
    });

    it('wipes nothing while another instance sweeps', async () => {
      lock.runAlone.mockResolvedValue(false);
      await expect(sut.sweep()).resolves.toBe(0);
      expect(repository.update).not.toHaveBeenCalled();
    });

    it('logs a failed sweep and carries on', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      repository.update.mockRejectedValueOnce(new Error('database is locked'));
      await expect(sut.sweep()).resolves.toBe(0);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('database is locked'));
      warn.mockRestore();
    });
  });
});
