import { Global, Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { InvalidationBus, LocalInvalidationBus } from './invalidation-bus';
import { RedisInvalidationBus } from './redis-invalidation-bus';

@Global()
@Module({
  providers: [
    {
      provide: InvalidationBus,
      inject: [WARDEN_CONFIG],
      useFactory: (config: WardenConfig) =>
        config.redisUrl
          ? new RedisInvalidationBus(config.redisUrl, randomUUID())
          : new LocalInvalidationBus(),
    },
  ],
  exports: [InvalidationBus],
})
export class InvalidationModule {}
