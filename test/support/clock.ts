import { Clock } from '../../src/common/clock';

/** A clock that stands at `at` until the test moves it. */
export class MovableClock extends Clock {
  constructor(public at: number) {
    super();
  }

  override now(): number {
    return this.at;
  }
}
