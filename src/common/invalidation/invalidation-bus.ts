/**
 * Tells the other Warden instances that something cached has changed (settings, revoked
 * tokens, directory changes). Delivery is best effort and fast; every cache also polls the
 * database, so a lost message only delays a change to the polling bound, never loses it.
 */
export abstract class InvalidationBus {
  abstract publish(channel: InvalidationChannel, message: string): void;
  abstract subscribe(channel: InvalidationChannel, handler: (message: string) => void): void;
}

export type InvalidationChannel =
  'settings' | 'credential-revoked' | 'user-changed' | 'connect-tenant-changed' | 'signing-keys';

/** One process only: messages reach this instance's own subscribers (the embedded shape). */
export class LocalInvalidationBus extends InvalidationBus {
  private readonly handlers = new Map<string, ((message: string) => void)[]>();

  publish(channel: InvalidationChannel, message: string): void {
    for (const handler of this.handlers.get(channel) ?? []) handler(message);
  }

  subscribe(channel: InvalidationChannel, handler: (message: string) => void): void {
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler]);
  }
}
