import { AUDIT_BATCH_ROWS, AUDIT_FLUSH_INTERVAL_MS } from '../../src/audit/audit-writer.service';
import { DATABASES, databaseReady, itWhen } from '../support/app';
import {
  exitWithin,
  loadWhoami,
  startLoadedWarden,
  storedRequestIds,
} from '../support/process-load';

const CONCURRENCY = 32;
const LOAD_BEFORE_SIGKILL_MS = 2500;
/** The request rate is measured over the last stretch of the load, the one the kill cuts into. */
const RATE_WINDOW_MS = 1000;
const REQUEST_TIMEOUT_MS = 10_000;
const EXIT_WITHIN_MS = 10_000;

describe.each(DATABASES)('audit on SIGKILL under load (%s)', (database) => {
  let ready = false;
  beforeAll(async () => {
    ready = await databaseReady(database);
  });
  const maybe = itWhen(() => ready);

  maybe(
    'loses at most what one flush interval and one batch hold, and stores only answered requests, once each',
    async () => {
      const target = await startLoadedWarden(database);
      const { warden } = target;
      try {
        const load = loadWhoami(target, {
          prefix: 'kill',
          concurrency: CONCURRENCY,
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        await new Promise((r) => setTimeout(r, LOAD_BEFORE_SIGKILL_MS));
        const killedAt = Date.now();
        warden.child.kill('SIGKILL');
        await load.done;
        expect(await exitWithin(warden, EXIT_WITHIN_MS)).toBe('SIGKILL');

        const rows = await storedRequestIds(target.databaseUrl, 'kill');
        const stored = new Set(rows);
        // Every row is a request that was made and answered, and none is there twice.
        expect(rows.length).toBe(stored.size);
        expect(rows.filter((id) => !load.answered.has(id))).toEqual([]);

        // The load was real, refusals included, and the writer had been flushing all along.
        expect(load.answered.size).toBeGreaterThan(200);
        expect([...load.answered.values()]).toContain(401);
        expect(stored.size).toBeGreaterThan(0);

        // What the process could answer in one flush interval, at the rate it answered just before
        // the kill, plus the batch that may have been on its way to the database.
        const recent = load.answeredAt.filter((at) => at > killedAt - RATE_WINDOW_MS).length;
        const perMs = recent / RATE_WINDOW_MS;
        const bound = Math.ceil(perMs * AUDIT_FLUSH_INTERVAL_MS) + AUDIT_BATCH_ROWS;
        const missing = [...load.answered.keys()].filter((id) => !stored.has(id));
        expect(missing.length).toBeLessThanOrEqual(bound);
      } finally {
        await target.dispose();
      }
    },
    60_000,
  );
});
