import { AuditModule } from '../audit/audit.module';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerStorage } from '@nestjs/throttler';
import { AuthModule } from '../auth/auth.module';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { SettingsModule } from '../settings/settings.module';
import { AccessAudit } from './access-audit';
import { AccessPipeline } from './access-pipeline.service';
import { AccessGuard } from './access.guard';
import { ClientIpService } from './client-ip.service';
import { DecisionController } from './decision.controller';
import { DecisionExplainerController } from './decision-explainer.controller';
import { DecisionExplainer } from './decision-explainer.service';
import { DecisionService } from './decision.service';
import { NativeTokenRule } from './native-token.rule';
import { MemoryThrottlerStorage } from './rate-limit/memory-throttler.storage';
import { RateLimiterService } from './rate-limit/rate-limiter.service';
import { RedisThrottlerStorage } from './rate-limit/redis-throttler.storage';
import { RestrictionsService } from './restrictions.service';

/** Restriction rules, rate limits, the shared access pipeline, the global guard and the decision endpoint. */
@Module({
  imports: [SettingsModule, AuthModule, AuditModule],
  controllers: [DecisionController, DecisionExplainerController],
  providers: [
    RestrictionsService,
    ClientIpService,
    NativeTokenRule,
    RateLimiterService,
    AccessPipeline,
    AccessAudit,
    DecisionExplainer,
    DecisionService,
    {
      provide: ThrottlerStorage,
      inject: [WARDEN_CONFIG],
      // Redis when configured, so that every instance draws on one budget per credential.
      useFactory: (config: WardenConfig) => {
        if (!config.redisUrl) return new MemoryThrottlerStorage();
        const storage = new RedisThrottlerStorage(config.redisUrl, {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          // A Redis that stops answering without closing the connection must not hold
          // requests: the limiter falls back to counting per instance.
          commandTimeout: 500,
          keepAlive: 5000,
        });
        // A listener from the client's first moment: ioredis writes an error event nobody
        // listens to straight to stderr, as plain text, and the rate limiter subscribes only
        // later in the start-up. Connection errors are the client's to retry and the rate
        // limiter's to report (once, when counting falls back to this instance).
        storage.redis.on('error', () => undefined);
        return storage;
      },
    },
    { provide: APP_GUARD, useClass: AccessGuard },
  ],
  exports: [AccessPipeline, RateLimiterService, ClientIpService],
})
export class RestrictionsModule {}
