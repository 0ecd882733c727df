import { Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { InvalidationBus, InvalidationChannel, LocalInvalidationBus } from './invalidation-bus';

const CHANNEL_PREFIX = 'warden:invalidate:';

/**
 * Redis pub/sub between instances. A message is also delivered locally at once, so this
 * instance never waits on Redis for its own changes; messages from itself coming back through
 * Redis are recognised by the instance id and skipped.
 */
export class RedisInvalidationBus extends InvalidationBus implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisInvalidationBus.name);
  private readonly local = new LocalInvalidationBus();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly subscribed = new Set<string>();
  /**
   * Whether the loss of Redis has been logged and its return not yet. The clients retry every
   * few hundred milliseconds while it is away, each attempt an error event: the loss is logged
   * once and the return once, not every attempt.
   */
  private down = false;
  private closing = false;

  constructor(
    url: string,
    private readonly instanceId: string,
  ) {
    super();
    const options = { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false };
    this.publisher = new Redis(url, options);
    // A SUBSCRIBE sent while Redis is away waits for the connection however long that takes:
    // given up on, it would never be sent again (the client resubscribes only channels Redis
    // has confirmed), and an instance started during an outage would never hear the others.
    // No ready check (an INFO) on it: a SUBSCRIBE queued before the connection came goes out
    // first, and INFO on a connection in subscriber mode fails, which read as Redis being down.
    this.subscriber = new Redis(url, {
      ...options,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      enableReadyCheck: false,
    });
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (err: Error) => this.lost(err));
      client.on('ready', () => this.back());
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
      this.subscriber.subscribe(CHANNEL_PREFIX + channel).catch((err: Error) => {
        if (!this.closing) this.logger.warn({ err: err.message }, 'Redis subscribe failed');
      });
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

  private lost(err: Error): void {
    if (this.down || this.closing) return;
    this.down = true;
    this.logger.warn(
      { err: err.message },
      'Redis unavailable; caches fall back to polling until it is back',
    );
  }

  private back(): void {
    if (!this.down || [this.publisher, this.subscriber].some((c) => c.status !== 'ready')) return;
    this.down = false;
    this.logger.log('Redis reachable again; invalidation messages flow between instances');
  }

  /**
   * After the HTTP server has stopped (not at module destruction, which comes first): requests
   * answered while the instance drains still tell the others what they changed.
   */
  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    // QUIT waits behind queued publishes; a subscriber takes no QUIT, nor needs one; a client
    // that is not connected just stops retrying.
    this.subscriber.disconnect();
    if (this.publisher.status === 'ready') await this.publisher.quit().catch(() => undefined);
    else this.publisher.disconnect();
  }
}
