/**
 * A value when everything it needs is in memory, a promise when it has to wait for I/O.
 *
 * The request's hot path (a remembered token, the address allow-list, group rules, counters in
 * memory) is judged with no promise at all: awaiting even a settled promise costs a microtask
 * turn per step. A function of this shape does its synchronous part first and falls into an
 * asynchronous continuation only where it really has to wait (a token never seen, a password
 * check, counters in Redis). It fails the way it answers: synchronously with a throw, otherwise
 * with a rejected promise (the same error either way). `await` handles both; a caller that
 * branches on `instanceof Promise` wraps the call in a try/catch or goes through `attempt`.
 *
 * Promises here are native ones (async functions, TypeORM, ioredis): `instanceof Promise` is the
 * test, never duck-typed thenables.
 */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)` at once when the value is at hand, once it settles when it is a promise. */
export function andThen<T, U>(
  value: MaybePromise<T>,
  next: (value: T) => MaybePromise<U>,
): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * `try { value = await run() } catch (err) { return failed(err) } return next(value)`, without
 * the await when `run` answers at once: `failed` sees what `run` throws or rejects with, not what
 * `next` throws.
 */
export function attempt<T, U>(
  run: () => MaybePromise<T>,
  next: (value: T) => MaybePromise<U>,
  failed: (err: unknown) => MaybePromise<U>,
): MaybePromise<U> {
  let value: MaybePromise<T>;
  try {
    value = run();
  } catch (err) {
    return failed(err);
  }
  return value instanceof Promise ? value.then(next, failed) : next(value);
}
