import { requestIdGenerator } from './request-id';

describe(requestIdGenerator.name, () => {
  it('gives ids of a 12-hex-digit prefix and a base-36 counter, each one new', () => {
    const sut = requestIdGenerator();
    const ids = Array.from({ length: 10_000 }, () => sut());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(ids[0].endsWith('-1')).toBe(true);
    expect(ids[35].endsWith('-10')).toBe(true);
  });

  it('keeps one prefix per generator, and another generator (a restart, an instance) draws another', () => {
    const first = requestIdGenerator();
    const second = requestIdGenerator();
    const prefixOf = (id: string) => id.split('-')[0];
    expect(prefixOf(first())).toBe(prefixOf(first()));
    expect(prefixOf(first())).not.toBe(prefixOf(second()));
    // Both counters start at one: the prefix alone keeps their ids apart.
    expect(first()).not.toBe(second());
  });

  it('fits what a caller-supplied id may be, so logs read the same either way', () => {
    expect(requestIdGenerator()()).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
  });
});
