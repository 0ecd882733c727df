import { Injectable } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { KeyRingService } from './key-ring.service';

/**
 * Asks every ten minutes whether `keys.rotateEveryDays` has come round: a rotation is due to
 * the day, so ten minutes late costs nothing, and a changed setting needs no rescheduling.
 */
@Injectable()
export class KeyRotationJob {
  constructor(private readonly keyRing: KeyRingService) {}

  @Cron(CronExpression.EVERY_10_MINUTES, { name: 'signing-key-rotation' })
  async run(): Promise<void> {
    await this.keyRing.rotateOnSchedule();
  }
}
