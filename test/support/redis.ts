import Redis from 'ioredis';

/** The Redis server the tests use; override with TEST_REDIS_URL. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let available: Promise<boolean> | undefined;

export function redisAvailable(): Promise<boolean> {
  available ??= (async () => {
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 2000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    // Connection errors are the answer here, not something to log.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  })();
  return available;
}

/**
 * Suites that need Redis call this in beforeAll. Under CI a missing server is a failure; on a
 * developer machine without one the suite says so and its tests are skipped.
 */
export async function requireRedis(): Promise<boolean> {
  if (await redisAvailable()) return true;
  if (process.env.CI)
    throw new Error(`Redis is required under CI but ${REDIS_URL} does not answer`);
  process.stderr.write(`Redis at ${REDIS_URL} does not answer: skipping Redis tests\n`);
  return false;
}

/** The pub/sub channels of Warden's invalidation bus (src/common/invalidation). */
export const INVALIDATION_CHANNELS = [
  'settings',
  'credential-revoked',
  'user-changed',
  'connect-tenant-changed',
].map((c) => `warden:invalidate:${c}`);

/**
 * Each instance subscribes after connecting; waits until Redis counts at least `count`
 * subscribers on every invalidation channel, so that a test does not measure the polling
 * fallback instead of the bus.
 */
export async function awaitInvalidationSubscribers(count: number, ms = 10_000): Promise<void> {
  const probe = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const deadline = Date.now() + ms;
    for (;;) {
      const reply = (await probe.call('PUBSUB', 'NUMSUB', ...INVALIDATION_CHANNELS)) as (
        string | number
      )[];
      const counts = reply.filter((_, i) => i % 2 === 1).map(Number);
      if (counts.every((n) => n >= count)) return;
      if (Date.now() > deadline)
        throw new Error(`Redis subscriptions not established: ${JSON.stringify(reply)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    probe.disconnect();
  }
}
