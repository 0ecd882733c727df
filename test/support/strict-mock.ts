/**
 * A strict mock: the methods the test arranged, and nothing else. Any other property read
 * throws, so a call the test did not expect fails loudly instead of returning `undefined`.
 * `then` reads as undefined so that a strict mock can be returned from an async function.
 */
export function strict<T extends object>(impl: Partial<Record<keyof T, jest.Mock>>): T {
  return new Proxy(impl, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof typeof target];
      if (prop === 'then') return undefined;
      throw new Error(`unexpected call to ${String(prop)}`);
    },
  }) as unknown as T;
}
