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
