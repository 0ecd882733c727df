import { Logger } from '@nestjs/common';

/**
 * Reports one operation's progress to CMJ in order, without the work waiting for it: a slow or
 * failing Operations API costs the migration nothing. The result waits for the reports before it.
 */
export class ProgressReporter {
  private latest = -1;
  private sent = -1;
  private sending: Promise<void> | null = null;
  private gaveUp = false;

  constructor(
    private readonly send: (fraction: number) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Only the latest value waiting is sent: a slow Operations API is not sent a backlog. */
  report(fraction: number): void {
    const value = Math.round(Math.min(1, Math.max(0, fraction)) * 1000) / 1000;
    if (value <= this.latest || this.gaveUp) return;
    this.latest = value;
    this.sending ??= this.drain();
  }

  settled(): Promise<void> {
    return this.sending ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    while (this.sent < this.latest && !this.gaveUp) {
      const value = this.latest;
      try {
        await this.send(value);
        this.sent = value;
      } catch (err) {
        // The result still goes; progress is not worth more retries.
        this.gaveUp = true;
        this.logger.warn(`Progress reports stopped: ${(err as Error).message}`);
      }
    }
    this.sending = null;
  }
}
