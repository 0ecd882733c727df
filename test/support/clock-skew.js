'use strict';
// Loaded with node -r into a Warden process: moves its wall clock by TEST_CLOCK_SKEW_MS,
// as the clock of another host may be off, so that tests can show what instances do when their
// clocks disagree (cron ticks, token times). Monotonic clocks and timer durations are untouched.
const skew = Number(process.env.TEST_CLOCK_SKEW_MS || 0);
if (skew) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  RealDate.now = () => realNow() + skew;
  globalThis.Date = new Proxy(RealDate, {
    construct: (target, args, newTarget) =>
      Reflect.construct(target, args.length === 0 ? [realNow() + skew] : args, newTarget),
  });
}
