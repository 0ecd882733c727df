import { DataSource } from 'typeorm';
import { JOB_LOCKS, JobLock } from '../../src/common/database/job-lock';
import { DATABASES, databaseReady, itWhen } from '../support/app';
import { openTestDatabase, TestDatabase } from '../support/database';

/** Work that runs until `release()` is called, and says when it has started. */
function heldWork() {
  let release!: () => void;
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const gate = new Promise<void>((r) => (release = r));
  return {
    running,
    release,
    work: async () => {
      started();
      await gate;
    },
  };
}

describe.each(DATABASES)(`${JobLock.name} on %s`, (kind) => {
  let ready = false;
  let db: TestDatabase;
  /** A second instance: its own connections to the same PostgreSQL database; on SQLite the same file's. */
  let other: DataSource;
  beforeAll(async () => {
    ready = await databaseReady(kind);
    if (!ready) return;
    db = await openTestDatabase(kind);
    other =
      kind === 'postgres'
        ? await new DataSource({ ...db.dataSource.options } as never).initialize()
        : db.dataSource;
  });
  afterAll(async () => {
    if (kind === 'postgres') await other?.destroy();
    await db?.close();
  });
  const maybe = itWhen(kind);

  maybe('a job runs on one instance at a time: the other skips it while it runs', async () => {
    const first = new JobLock(db.dataSource);
    const second = new JobLock(other);
    const held = heldWork();
    const running = first.runAlone(JOB_LOCKS.apiTokenCleanup, held.work);
    await held.running;

    let ranAlongside = false;
    expect(
      await second.runAlone(JOB_LOCKS.apiTokenCleanup, async () => {
        ranAlongside = true;
      }),
    ).toBe(false);
    expect(ranAlongside).toBe(false);
    // Another job is not held up by it.
    expect(await second.runAlone(JOB_LOCKS.spiTokenSweep, async () => undefined)).toBe(true);

    held.release();
    expect(await running).toBe(true);
    let ranAfter = false;
    expect(
      await second.runAlone(JOB_LOCKS.apiTokenCleanup, async () => {
        ranAfter = true;
      }),
    ).toBe(true);
    expect(ranAfter).toBe(true);
  });

  maybe('a job that fails releases its lock', async () => {
    const sut = new JobLock(db.dataSource);
    await expect(
      sut.runAlone(JOB_LOCKS.spiTokenSweep, async () => {
        throw new Error('failed');
      }),
    ).rejects.toThrow('failed');
    expect(await new JobLock(other).runAlone(JOB_LOCKS.spiTokenSweep, async () => undefined)).toBe(
      true,
    );
  });
});
