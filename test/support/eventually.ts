/** Calls `probe` every 200 ms until `ok` holds for its answer or `ms` have passed; returns the last answer. */
export async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T;
  do {
    last = await probe();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  return last;
}

/** What "at once" means between instances: a change on one is obeyed by the others within this. */
export const PROPAGATION_MS = 1000;
const WITHIN_POLL_MS = 50;

/**
 * Calls `probe` every 50 ms until `accept` holds for its result; fails when that has not happened
 * within `withinMs` of the start. Returns the accepted result and how long it took.
 */
export async function within<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (result: T) => boolean,
  withinMs = PROPAGATION_MS,
): Promise<{ result: T; ms: number }> {
  const start = Date.now();
  let last: T | undefined;
  for (;;) {
    last = await probe();
    const ms = Date.now() - start;
    if (accept(last)) return { result: last, ms };
    if (ms >= withinMs) break;
    await new Promise((r) => setTimeout(r, Math.min(WITHIN_POLL_MS, withinMs - ms)));
  }
  throw new Error(
    `${what}: not observed within ${withinMs} ms (last observation: ${observation(last)})`,
  );
}

/** An HTTP answer as its status and problem code; anything else as JSON. */
function observation(value: unknown): string {
  if (value !== null && typeof value === 'object' && 'status' in value) {
    const code = (value as { body?: { code?: unknown } }).body?.code;
    return code === undefined ? String(value.status) : `${value.status} ${code}`;
  }
  return JSON.stringify(value);
}
