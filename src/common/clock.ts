import { Global, Injectable, Module } from '@nestjs/common';

/** The time every token decision uses; one place to move it in tests. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}

@Global()
@Module({ providers: [Clock], exports: [Clock] })
export class ClockModule {}
