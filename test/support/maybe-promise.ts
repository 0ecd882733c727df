import type { MaybePromise } from '../../src/common/maybe-promise';

/**
 * The outcome of a MaybePromise call as one promise: what it returns, or what it throws or
 * rejects with, so that a test asserts the same way on the synchronous and asynchronous paths.
 */
export function settled<T>(run: () => MaybePromise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(run()));
}

/** Whether a MaybePromise call answered without a promise (the in-memory path). */
export function answeredAtOnce(value: unknown): boolean {
  return !(value instanceof Promise);
}
