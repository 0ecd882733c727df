import { Logger } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { MetricsService } from '../../metrics/metrics.service';
import { DEFAULT_SETTINGS, Settings } from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { strict } from '../../../test/support/strict-mock';
import { AuditSink } from '../audit.port';
import { AuditRepository } from '../audit.repository';
import { AuditRetentionService, PURGE_BATCH_ROWS, PURGE_PAUSE_MS } from './audit-retention.service';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const DAY = 86_400_000;
const FULL = PURGE_BATCH_ROWS;

/** Answers each call with the next of `counts`, then 0. */
const batches = (...counts: number[]) => jest.fn(async () => counts.shift() ?? 0);

describe(AuditRetentionService.name, () => {
  let settings: Settings;
  let repository: {
    withPurgeLock: jest.Mock;
    removeOlderThan: jest.Mock;
    boundaryBeyond: jest.Mock;
    removeUpTo: jest.Mock;
  };
  let audit: { record: jest.Mock };
  let metrics: { auditPurged: jest.Mock };
  let sut: AuditRetentionService;

  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
    settings = structuredClone(DEFAULT_SETTINGS);
    settings.audit = { ...settings.audit, retentionDays: 30, maxEntries: 1000 };
    repository = {
      withPurgeLock: jest.fn(async (work: () => Promise<void>) => (await work(), true)),
      removeOlderThan: batches(),
      boundaryBeyond: jest.fn(async () => null),
      removeUpTo: batches(),
    };
    audit = { record: jest.fn() };
    metrics = { auditPurged: jest.fn() };
    const clock = new Clock();
    sut = new AuditRetentionService(
      strict<AuditRepository>(repository),
      strict<SettingsService>({ get: jest.fn(() => settings) }),
      strict<AuditSink>(audit),
      strict<MetricsService>(metrics),
      clock,
    );
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  /** Runs a purge, letting its pauses between batches pass. */
  async function purged(trigger: 'manual' | 'schedule' = 'manual') {
    const run = sut.purge(trigger);
    await jest.runAllTimersAsync();
    return run;
  }

  it('removes old rows in batches, then the oldest beyond maxEntries, and records the run', async () => {
    repository.removeOlderThan = batches(FULL, FULL, 17);
    const boundary = { at: new Date(NOW - DAY), id: 'row-9' };
    repository.boundaryBeyond.mockResolvedValue(boundary);
    repository.removeUpTo = batches(FULL, 5);
    const run = await purged();
    expect(run).toEqual({
      trigger: 'manual',
      startedAt: new Date(NOW).toISOString(),
      finishedAt: expect.any(String),
      durationMs: expect.any(Number),
      retentionDays: 30,
      maxEntries: 1000,
      deletedByAge: 2 * FULL + 17,
      deletedByCount: FULL + 5,
      complete: true,
    });
    expect(repository.removeOlderThan.mock.calls).toEqual([
      [new Date(NOW - 30 * DAY), FULL],
      [new Date(NOW - 30 * DAY), FULL],
      [new Date(NOW - 30 * DAY), FULL],
    ]);
    expect(repository.boundaryBeyond).toHaveBeenCalledWith(1000);
    expect(repository.removeUpTo.mock.calls).toEqual([
      [boundary, FULL],
      [boundary, FULL],
    ]);
    expect(audit.record).toHaveBeenCalledWith({
      event: 'audit.purged',
      outcome: 'success',
      reason: 'manual',
      details: run,
    });
    expect(metrics.auditPurged).toHaveBeenCalledWith(
      2 * FULL + 17,
      FULL + 5,
      Date.parse(run!.finishedAt),
    );
  });

  it('pauses between two full batches, so requests keep flowing', async () => {
    repository.removeOlderThan = batches(FULL, 0);
    const run = sut.purge('manual');
    await jest.advanceTimersByTimeAsync(PURGE_PAUSE_MS - 1);
    expect(repository.removeOlderThan).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(repository.removeOlderThan).toHaveBeenCalledTimes(2);
    await run;
  });

  it('removes nothing by count when there are no more rows than maxEntries', async () => {
    const run = await purged();
    expect(run).toMatchObject({ deletedByAge: 0, deletedByCount: 0, complete: true });
    expect(repository.removeUpTo).not.toHaveBeenCalled();
  });

  it('runs once at a time on this instance', async () => {
    repository.removeOlderThan = batches(FULL, 0);
    const first = sut.purge('manual');
    expect(sut.running).toBe(true);
    await expect(sut.purge('manual')).resolves.toBeNull();
    await jest.runAllTimersAsync();
    await expect(first).resolves.not.toBeNull();
    expect(sut.running).toBe(false);
  });

  it('records nothing when another instance holds the lock', async () => {
    repository.withPurgeLock.mockResolvedValue(false);
    await expect(purged()).resolves.toBeNull();
    expect(audit.record).not.toHaveBeenCalled();
    expect(metrics.auditPurged).not.toHaveBeenCalled();
  });

  it('stops between two batches on shutdown, as an incomplete run, and starts no other', async () => {
    repository.removeOlderThan = batches(FULL, FULL, FULL, FULL);
    const run = sut.purge('manual');
    await jest.advanceTimersByTimeAsync(0);
    const stopped = sut.onApplicationShutdown();
    await jest.runAllTimersAsync();
    await stopped;
    const done = await run;
    expect(done).toMatchObject({ deletedByCount: 0, complete: false });
    // The batch that follows the pause under way may still go; none after it.
    expect(repository.removeOlderThan.mock.calls.length).toBeLessThan(3);
    expect(done!.deletedByAge).toBe(repository.removeOlderThan.mock.calls.length * FULL);
    expect(repository.boundaryBeyond).not.toHaveBeenCalled();
    await expect(sut.purge('manual')).resolves.toBeNull();
  });

  describe('on schedule', () => {
    it('runs the firing it claims, under the firing lock', async () => {
      const done = sut.purgeOnSchedule(new Date(NOW + 3_600_000));
      await jest.runAllTimersAsync();
      await done;
      expect(repository.withPurgeLock.mock.calls.map(([, lock]) => lock)).toEqual([
        'firing',
        undefined,
      ]);
      expect(audit.record).toHaveBeenCalledWith(expect.objectContaining({ reason: 'schedule' }));
    });

    it('logs a failed run instead of throwing into the scheduler', async () => {
      const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      repository.removeOlderThan.mockRejectedValue(new Error('database is locked'));
      const done = sut.purgeOnSchedule(null);
      await jest.runAllTimersAsync();
      await expect(done).resolves.toBeUndefined();
      expect(error).toHaveBeenCalledWith('Audit retention failed: database is locked');
    });
  });
});
