import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

type Redis = ThrottlerStorageRedisService['redis'];

/**
 * With Redis, the password checks started per username and address, across instances: counted
 * when a check starts and given back when it succeeds, so the count is the window's failures plus
 * the checks under way on every instance (each instance's own view knows only its own).
 */
const LOGIN_CHECKS_PREFIX = 'warden:login-checks:';
/** INCR with the window's expiry on the first; answers the count and the milliseconds left. */
const START_LOGIN_CHECK = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;
/**
 * Gives a check's place back, unless its window has ended meanwhile: a DECR on the expired key
 * would make a new one at -1, with no expiry, and a place too many for ever.
 */
const END_LOGIN_CHECK = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0`;

/**
 * Counts a password check for `key` among those started on every instance; answers the count
 * and the milliseconds left in its window.
 */
export async function startLoginCheck(
  redis: Redis,
  key: string,
  windowMs: number,
): Promise<[number, number]> {
  return (await redis.eval(START_LOGIN_CHECK, 1, LOGIN_CHECKS_PREFIX + key, windowMs)) as [
    number,
    number,
  ];
}

/** Gives back the place of a check begun with startLoginCheck that succeeded. */
export async function endLoginCheck(redis: Redis, key: string): Promise<void> {
  await redis.eval(END_LOGIN_CHECK, 1, LOGIN_CHECKS_PREFIX + key);
}

/** The counters @nest-lab/throttler-storage-redis keeps for `key`, read without a write. */
export async function peekRedis(
  storage: ThrottlerStorageRedisService,
  key: string,
  name: string,
): Promise<ThrottlerStorageRecord | null> {
  // The library's own key names (see its increment script).
  const hitKey = `{${key}:${name}}:hits`;
  const blockKey = `{${key}:${name}}:blocked`;
  const answers = await storage.redis.multi().get(hitKey).pttl(hitKey).pttl(blockKey).exec();
  const [hits, hitTtl, blockTtl] = (answers ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
  if (hits === null || hits === undefined) return null;
  const blockMs = Number(blockTtl);
  return {
    totalHits: Number(hits),
    timeToExpire: Math.max(0, Math.ceil(Number(hitTtl) / 1000)),
    isBlocked: blockMs > 0,
    timeToBlockExpire: blockMs > 0 ? Math.ceil(blockMs / 1000) : 0,
  };
}
