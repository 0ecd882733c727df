import { itWhen } from '../support/app';
import { answersReach, exitWithin, loadWhoami, startLoadedWarden } from '../support/process-load';
import { REDIS_URL, requireRedis } from '../support/redis';

/**
 * A Warden process with Redis, from its start to a SIGTERM under load: Redis is up all along,
 * so nothing may say otherwise (a ready check on the subscriber connection once did, at every
 * start), and the requests answered while the process drains are counted through Redis as
 * before (its connections close after the HTTP server has stopped).
 */
describe('a Warden process with Redis, ended by SIGTERM under load', () => {
  // Under CI a missing Redis fails here; elsewhere itWhen has skipped the test.
  beforeAll(async () => {
    await requireRedis();
  });
  const maybe = itWhen('redis');

  maybe(
    'logs no loss of Redis, at start or while draining, and no fallback to counting alone',
    async () => {
      const target = await startLoadedWarden('sqlite', {
        env: { REDIS_URL },
        // Rate limited, through Redis, with a budget the load cannot spend.
        settings: { rateLimit: { enabled: true, requests: 1_000_000, windowSeconds: 60 } },
      });
      try {
        const load = loadWhoami(target, {
          prefix: 'redis-term',
          concurrency: 16,
          timeoutMs: 10_000,
        });
        await answersReach(load, 100);
        target.warden.child.kill('SIGTERM');
        await load.done;
        const exit = await exitWithin(target.warden, 15_000);
        expect(['SIGTERM', 0]).toContain(exit);
        expect(load.answered.size).toBeGreaterThanOrEqual(100);
        const output = target.warden.output();
        expect(output).not.toMatch(/Rate-limit storage \(Redis\) unreachable|Redis unavailable/);
      } finally {
        await target.dispose();
      }
    },
    60_000,
  );
});
