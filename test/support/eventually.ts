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
