import { Logger } from '@nestjs/common';
import { Clock } from '../common/clock';
import { MetricsService } from '../metrics/metrics.service';
import { AuditEvent } from './audit.port';
import { AuditRepository, AuditRow } from './audit.repository';
import {
  AUDIT_BATCH_ROWS,
  AUDIT_MAX_BUFFERED,
  AUDIT_MAX_BUFFERED_CHARS,
  AuditWriter,
} from './audit-writer.service';

const event = (n: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  event: 'access.allowed',
  outcome: 'allowed',
  requestId: `r${n}`,
  ...extra,
});

describe(AuditWriter.name, () => {
  let stored: AuditRow[];
  let insertMany: jest.Mock<Promise<void>, [AuditRow[]]>;
  let reachable: jest.Mock<Promise<boolean>, []>;
  let metrics: MetricsService;
  let sut: AuditWriter;
  let logged: unknown[];

  beforeEach(() => {
    stored = [];
    insertMany = jest.fn(async (rows: AuditRow[]) => {
      stored.push(...rows);
    });
    reachable = jest.fn(async () => true);
    metrics = new MetricsService();
    const repository = { insertMany, reachable } as unknown as AuditRepository;
    const clock = { now: () => Date.parse('2026-11-22T10:00:00Z') } as Clock;
    sut = new AuditWriter(repository, clock, metrics);
    logged = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void logged.push(m));
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await sut.onApplicationShutdown();
  });

  const dropMetric = async () =>
    (await metrics.registry.getSingleMetric('warden_audit_events_dropped_total')!.get()).values[0]
      ?.value ?? 0;

  it('buffers without touching the database, then writes in order, one INSERT per batch', async () => {
    for (let i = 0; i < AUDIT_BATCH_ROWS * 2 + 20; i++) sut.record(event(i));
    expect(insertMany).not.toHaveBeenCalled();
    expect(sut.stats().buffered).toBe(AUDIT_BATCH_ROWS * 2 + 20);

    await sut.flush();

    expect(insertMany.mock.calls.map(([rows]) => rows.length)).toEqual([
      AUDIT_BATCH_ROWS,
      AUDIT_BATCH_ROWS,
      20,
    ]);
    expect(stored.map((r) => r.requestId)).toEqual(
      Array.from({ length: AUDIT_BATCH_ROWS * 2 + 20 }, (_, i) => `r${i}`),
    );
    expect(sut.stats()).toEqual({ buffered: 0, flushed: AUDIT_BATCH_ROWS * 2 + 20, dropped: 0 });
  });

  it('starts a batch as soon as a full one is waiting, without waiting for the timer', async () => {
    for (let i = 0; i < AUDIT_BATCH_ROWS; i++) sut.record(event(i));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(insertMany).toHaveBeenCalledTimes(1);
    expect(stored).toHaveLength(AUDIT_BATCH_ROWS);
  });

  it('writes on the timer when fewer rows wait', async () => {
    sut.onModuleInit();
    sut.record(event(1));
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(stored.map((r) => r.requestId)).toEqual(['r1']);
  });

  describe('when a batch goes', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] }));
    afterEach(() => jest.useRealTimers());
    const sizes = () => insertMany.mock.calls.map(([rows]) => rows.length);
    const turn = () => new Promise((resolve) => setImmediate(resolve));

    it('100 ms after the first row it holds: no row waits longer', async () => {
      sut.record(event(1));
      await jest.advanceTimersByTimeAsync(60);
      sut.record(event(2));
      await jest.advanceTimersByTimeAsync(39);
      expect(sizes()).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(sizes()).toEqual([2]);
    });

    it('after a full batch, the next rows wait their own 100 ms, not the rest of the last', async () => {
      sut.record(event(0));
      await jest.advanceTimersByTimeAsync(90);
      for (let i = 1; i < AUDIT_BATCH_ROWS; i++) sut.record(event(i));
      await turn();
      await turn();
      expect(sizes()).toEqual([AUDIT_BATCH_ROWS]);
      sut.record(event(AUDIT_BATCH_ROWS));
      // The first row's 100 ms are long past: still nothing goes before the new first row's.
      await jest.advanceTimersByTimeAsync(50);
      for (let i = 1; i <= 20; i++) sut.record(event(AUDIT_BATCH_ROWS + i));
      await jest.advanceTimersByTimeAsync(49);
      expect(sizes()).toEqual([AUDIT_BATCH_ROWS]);
      await jest.advanceTimersByTimeAsync(1);
      expect(sizes()).toEqual([AUDIT_BATCH_ROWS, 21]);
    });

    it('while the database is away: on the backoff, until it is back', async () => {
      insertMany.mockRejectedValueOnce(new Error('connection refused'));
      reachable.mockResolvedValue(false);
      sut.record(event(1));
      await jest.advanceTimersByTimeAsync(100);
      expect(insertMany).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(199);
      expect(insertMany).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(insertMany).toHaveBeenCalledTimes(2);
      expect(stored.map((r) => r.requestId)).toEqual(['r1']);
    });
  });

  it('cuts values to their column widths and never stores oversized JSON', async () => {
    sut.record(
      event(1, {
        path: `/${'a'.repeat(5000)}`,
        userAgent: 'u'.repeat(2000),
        details: { blob: 'x'.repeat(20_000) },
        status: 1.5 as number,
      }),
    );
    sut.record(event(2, { details: { ok: true } }));
    await sut.flush();
    expect(stored[0].path).toHaveLength(2048);
    expect(stored[0].userAgent).toHaveLength(512);
    expect(JSON.parse(stored[0].details!)).toEqual({ truncated: true, length: expect.any(Number) });
    expect(stored[0].status).toBeNull();
    expect(JSON.parse(stored[1].details!)).toEqual({ ok: true });
  });

  it('keeps every row while the database is away and writes them all when it is back', async () => {
    insertMany.mockRejectedValue(new Error('connection refused'));
    reachable.mockResolvedValue(false);
    for (let i = 0; i < 1200; i++) sut.record(event(i));

    await expect(sut.flush()).rejects.toThrow('connection refused');
    expect(sut.stats()).toMatchObject({ buffered: 1200, flushed: 0, dropped: 0 });

    insertMany.mockImplementation(async (rows) => void stored.push(...rows));
    await sut.flush();
    expect(stored.map((r) => r.requestId)).toEqual(Array.from({ length: 1200 }, (_, i) => `r${i}`));
    expect(sut.stats()).toMatchObject({ buffered: 0, flushed: 1200, dropped: 0 });
  });

  it('holds at most its bound while the database is away and counts every event it refuses', async () => {
    insertMany.mockRejectedValue(new Error('connection refused'));
    reachable.mockResolvedValue(false);
    for (let i = 0; i < AUDIT_MAX_BUFFERED + 25; i++) sut.record(event(i));

    expect(sut.stats()).toMatchObject({ buffered: AUDIT_MAX_BUFFERED, dropped: 25 });
    expect(await dropMetric()).toBe(25);
    // The first refusal is reported at once, the rest when the database is back.
    expect(logged.filter((m) => String(m).includes('dropped 1 events'))).toHaveLength(1);
    // What was accepted is what gets written, in order, once the database is back.
    insertMany.mockImplementation(async (rows) => void stored.push(...rows));
    await sut.flush();
    expect(
      logged.filter((m) =>
        String(m).includes('dropped 24 events since the last report, 25 in all'),
      ),
    ).toHaveLength(1);
    expect(stored).toHaveLength(AUDIT_MAX_BUFFERED);
    expect(stored[stored.length - 1].requestId).toBe(`r${AUDIT_MAX_BUFFERED - 1}`);
  });

  it.each([
    ['over the statement timeout (PostgreSQL 57014)', '57014'],
    ['refused a lock (PostgreSQL 55P03)', '55P03'],
    ['busy (SQLite)', 'SQLITE_BUSY'],
  ])(
    'a batch the database could not take, %s while answering, waits whole and is written later',
    async (_name, code) => {
      insertMany.mockRejectedValue(Object.assign(new Error('not now'), { code }));
      for (let i = 0; i < 8; i++) sut.record(event(i));

      await expect(sut.flush()).rejects.toThrow('not now');
      expect(sut.stats()).toMatchObject({ buffered: 8, flushed: 0, dropped: 0 });

      insertMany.mockImplementation(async (rows) => void stored.push(...rows));
      await sut.flush();
      expect(stored.map((r) => r.requestId)).toEqual(Array.from({ length: 8 }, (_, i) => `r${i}`));
      expect(sut.stats()).toMatchObject({ buffered: 0, flushed: 8, dropped: 0 });
    },
  );

  it('a row the database refuses (while it answers) goes to the log, counted; its batch is stored', async () => {
    insertMany.mockImplementation(async (rows) => {
      if (rows.some((r) => r.requestId === 'r3')) throw new Error('value rejected');
      stored.push(...rows);
    });
    for (let i = 0; i < 6; i++) sut.record(event(i));
    await sut.flush();
    expect(stored.map((r) => r.requestId)).toEqual(['r0', 'r1', 'r2', 'r4', 'r5']);
    expect(sut.stats().dropped).toBe(1);
    expect(await dropMetric()).toBe(1);
    expect(logged).toContainEqual(
      expect.objectContaining({ auditNotStored: expect.objectContaining({ requestId: 'r3' }) }),
    );
  });

  it('a NUL in a value (PostgreSQL refuses it) is replaced, so no caller can fail a batch', async () => {
    sut.record(event(1, { actor: 'eve\u0000il', path: '/a\u0000b' }));
    await sut.flush();
    expect(stored[0].actor).toBe('eve\uFFFDil');
    expect(stored[0].path).toBe('/a\uFFFDb');
  });

  it('an outage in the middle of a split batch writes no row twice', async () => {
    let calls = 0;
    insertMany.mockImplementation(async (rows) => {
      calls++;
      if (calls === 1) throw new Error('value rejected'); // the whole batch
      if (calls === 3) {
        reachable.mockResolvedValue(false); // the second half: the database has gone
        throw new Error('connection lost');
      }
      stored.push(...rows);
    });
    for (let i = 0; i < 6; i++) sut.record(event(i));
    await expect(sut.flush()).rejects.toThrow('connection lost');
    expect(stored.map((r) => r.requestId)).toEqual(['r0', 'r1', 'r2']);
    expect(sut.stats()).toMatchObject({ buffered: 3, flushed: 3 });

    reachable.mockResolvedValue(true);
    await sut.flush();
    expect(stored.map((r) => r.requestId)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
  });

  it('two flushes at once write each row once', async () => {
    for (let i = 0; i < 1200; i++) sut.record(event(i));
    await Promise.all([sut.flush(), sut.flush()]);
    expect(stored).toHaveLength(1200);
    expect(new Set(stored.map((r) => r.requestId)).size).toBe(1200);
  });

  it('bounds the buffer by the text it holds too, not only by its rows', async () => {
    insertMany.mockRejectedValue(new Error('connection refused'));
    reachable.mockResolvedValue(false);
    const long = `/${'x'.repeat(20_000)}`;
    for (let i = 0; i < 10_000; i++) sut.record(event(i, { path: long }));
    const { buffered, dropped } = sut.stats();
    // Each row is cut to 2,048 characters of path and counted with its fixed cost.
    expect(buffered).toBe(Math.ceil(AUDIT_MAX_BUFFERED_CHARS / (2048 + 200)));
    expect(dropped).toBe(10_000 - buffered);
    insertMany.mockImplementation(async (rows) => void stored.push(...rows));
    await sut.flush();
    // Once written, the budget is free again.
    sut.record(event(9999, { path: long }));
    expect(sut.stats()).toMatchObject({ buffered: 1 });
  });

  it('records nothing while switched off, except the settings change that switched it', async () => {
    sut.setEnabled(false);
    sut.record(event(1));
    sut.record(event(2, { event: 'settings.changed', outcome: 'success' }));
    await sut.flush();
    expect(stored.map((r) => r.event)).toEqual(['settings.changed']);
  });

  it('writes everything buffered on shutdown', async () => {
    sut.onModuleInit();
    for (let i = 0; i < 700; i++) sut.record(event(i));
    await sut.onApplicationShutdown();
    expect(stored).toHaveLength(700);
  });
});
