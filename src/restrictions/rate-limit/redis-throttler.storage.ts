import { OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';

/**
 * The shared counters in Redis, whose connection lasts until the HTTP server has stopped: the
 * library closes it at module destruction, which comes first, and the requests answered while
 * the instance drains fell back to counting alone (logging Redis as unreachable).
 */
export class RedisThrottlerStorage
  extends ThrottlerStorageRedisService
  implements OnApplicationShutdown
{
  override onModuleDestroy(): void {
    // Not yet: see onApplicationShutdown.
  }

  onApplicationShutdown(): void {
    super.onModuleDestroy();
  }
}
