import { Logger, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { InvalidationBus, InvalidationChannel, LocalInvalidationBus } from './invalidation-bus';

const CHANNEL_PREFIX = 'warden:invalidate:';

/**
 * Redis pub/sub between instances. A message is also delivered locally at once, so this
 * instance never waits on Redis for its own changes; messages from itself coming back through
 * Redis are recognised by the instance id and skipped.
 */
export class RedisInvalidationBus extends InvalidationBus implements OnModuleDestroy {
  private readonly logger = new Logger(RedisInvalidationBus.name);
  private readonly local = new LocalInvalidationBus();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly subscribed = new Set<string>();

  constructor(
    url: string,
    private readonly instanceId: string,
  ) {
    super();
    const options = { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true });
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (err: Error) =>
        this.logger.warn({ err: err.message }, 'Redis unavailable; caches fall back to polling'),
      );
    }
    this.subscriber.on('message', (channel: string, raw: string) => {
      const separator = raw.indexOf(' ');
      if (separator === -1 || raw.slice(0, separator) === this.instanceId) return;
      this.local.publish(
        channel.slice(CHANNEL_PREFIX.length) as InvalidationChannel,
        raw.slice(separator + 1),
      );
    });
  }

  publish(channel: InvalidationChannel, message: string): void {
    this.local.publish(channel, message);
    this.publisher
      .publish(CHANNEL_PREFIX + channel, `${this.instanceId} ${message}`)
      .catch(() => undefined);
  }

  subscribe(channel: InvalidationChannel, handler: (message: string) => void): void {
    this.local.subscribe(channel, handler);
    if (!this.subscribed.has(channel)) {
      this.subscribed.add(channel);
      this.subscriber
        .subscribe(CHANNEL_PREFIX + channel)
        .catch((err: Error) => this.logger.warn({ err: err.message }, 'Redis subscribe failed'));
    }
  }

  /** Resolves once both connections are ready (tests wait for it; the service does not need to). */
  async ready(): Promise<void> {
    await Promise.all(
      [this.publisher, this.subscriber].map((c) =>
        c.status === 'ready' ? undefined : new Promise((r) => c.once('ready', r)),
      ),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
  }
}
