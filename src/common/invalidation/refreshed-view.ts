import { InvalidationBus, InvalidationChannel } from './invalidation-bus';

export interface RefreshedViewSpec {
  bus: InvalidationBus;
  channel: InvalidationChannel;
  /** How often the store is read when no message came: the bound on a lost message's delay. */
  pollMs: number;
  /** Reads what changed in the store into the view. */
  refresh: () => Promise<void>;
  /** What a message on the channel does here; a refresh unless the message says what changed. */
  onMessage?: (message: string) => void;
  /** Reports a failed refresh; the next poll tries again. */
  onError: (err: unknown) => void;
}

/**
 * A view of stored state that every instance keeps in memory: told of changes made elsewhere
 * by the invalidation bus, and polling the store as well, because bus delivery is best effort.
 * Refreshes run one at a time: a poll tick during one is skipped, and a message during one is
 * served by one more refresh after it, which sees what was committed meanwhile.
 */
export class RefreshedView {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;

  constructor(private readonly spec: RefreshedViewSpec) {}

  /** Subscribes to the channel and starts polling; the timer never keeps the process alive. */
  start(): void {
    this.spec.bus.subscribe(this.spec.channel, this.spec.onMessage ?? (() => void this.refresh()));
    this.timer = setInterval(() => {
      if (!this.running) void this.refresh();
    }, this.spec.pollMs);
    this.timer.unref();
  }

  /** Refreshes now, or once more after the refresh under way; never rejects. */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.runUntilCurrent().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops polling (at shutdown); a refresh under way finishes on its own. */
  stop(): void {
    clearInterval(this.timer);
  }

  private async runUntilCurrent(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.spec.refresh();
      } catch (err) {
        this.spec.onError(err);
      }
    } while (this.again);
  }
}
