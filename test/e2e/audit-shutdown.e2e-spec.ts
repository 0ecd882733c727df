import { DATABASES, databaseReady, itWhen } from '../support/app';
import {
  exitWithin,
  loadWhoami,
  startLoadedWarden,
  storedRequestIds,
} from '../support/process-load';

const CONCURRENCY = 32;
const LOAD_BEFORE_SIGTERM_MS = 1500;
const REQUEST_TIMEOUT_MS = 5000;
/** Shutdown waits for in-flight requests and the last audit batch; it must not hang. */
const EXIT_WITHIN_MS = 15_000;

describe.each(DATABASES)('audit on SIGTERM under load (%s)', (database) => {
  let ready = false;
  beforeAll(async () => {
    ready = await databaseReady(database);
  });
  const maybe = itWhen(() => ready);

  maybe(
    'every request answered before the process ended has its row in the database',
    async () => {
      const target = await startLoadedWarden(database);
      const { warden } = target;
      try {
        const load = loadWhoami(target, {
          prefix: 'load',
          concurrency: CONCURRENCY,
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        await new Promise((r) => setTimeout(r, LOAD_BEFORE_SIGTERM_MS));
        warden.child.kill('SIGTERM');
        await load.done;
        const exit = await exitWithin(warden, EXIT_WITHIN_MS);
        if (exit === 'still running') throw new Error(`no exit after SIGTERM:\n${warden.output()}`);
        expect(load.timedOut).toBe(0);
        expect(['SIGTERM', 0]).toContain(exit);
        expect(warden.output()).not.toMatch(/auditNotStored|dropped \d+ events/);

        const stored = new Set(await storedRequestIds(target.databaseUrl, 'load'));
        expect(load.answered.size).toBeGreaterThan(200);
        expect([...load.answered.values()]).toContain(401);
        const missing = [...load.answered.keys()].filter((id) => !stored.has(id));
        expect(missing).toEqual([]);
      } finally {
        await target.dispose();
      }
    },
    60_000,
  );
});
