import type { MaybePromise } from '../../src/common/maybe-promise';

/**
 * The outcome of a MaybePromise call as one promise: what it returns, or what it throws or
 * rejects with, so that a test asserts the same way on the synchronous and asynchronous paths.
 */
export function settled<T>(run: () => MaybePromise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(run()));
}

/** Whether a MaybePromise call answered without a promise (the in-memory path). */

/** What a MaybePromise call throws at once; fails the test when it answers (or with a promise). */
export function thrownBy(run: () => unknown): unknown {
  let answer: unknown;
  try {
    answer = run();
  } catch (err) {
    return err;
  }
  if (answer instanceof Promise) answer.catch(() => undefined);
  throw new Error(
    `expected a synchronous throw, got ${answer instanceof Promise ? 'a promise' : 'an answer'}`,
  );
}
