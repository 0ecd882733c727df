import { BoundedCache } from './bounded-cache';

describe('BoundedCache', () => {
  // Two generations: at least the newest maxEntries/2 entries, and every entry in use, stay.
  describe('size bound', () => {
    it('never holds more than maxEntries, however many are set', () => {
      const sut = new BoundedCache<number, number>(10);
      for (let i = 0; i < 1000; i++) {
        sut.set(i, i);
        expect(sut.size).toBeLessThanOrEqual(10);
      }
    });

    it('always keeps the most recent half of the bound', () => {
      const sut = new BoundedCache<number, string>(10);
      for (let i = 0; i < 103; i++) sut.set(i, `v${i}`);
      for (let i = 98; i < 103; i++) expect(sut.get(i)).toBe(`v${i}`);
      expect(sut.get(0)).toBeUndefined();
      expect(sut.get(50)).toBeUndefined();
    });

    it('keeps an entry that is read while newer ones arrive', () => {
      const sut = new BoundedCache<string, number>(4);
      sut.set('hot', 1);
      for (let i = 0; i < 50; i++) {
        sut.set(`cold-${i}`, i);
        expect(sut.get('hot')).toBe(1);
      }
      expect(sut.get('cold-0')).toBeUndefined();
    });

    it('evicts nothing while fewer than half the bound are held, reads included', () => {
      const sut = new BoundedCache<string, number>(10);
      for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) sut.set(key, i);
      for (let round = 0; round < 3; round++) {
        for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) expect(sut.get(key)).toBe(i);
      }
      expect(sut.size).toBe(4);
    });

    it('re-setting a key replaces its value without growing', () => {
      const sut = new BoundedCache<string, number>(10);
      sut.set('a', 1);
      sut.set('b', 2);
      sut.set('a', 10);

      expect(sut.size).toBe(2);
      expect(sut.get('a')).toBe(10);
    });
  });

  describe('expiry', () => {
    it('returns an entry before its expiresAt and drops it at expiresAt', () => {
      const sut = new BoundedCache<string, string>(10);
      sut.set('token', 'principal', 1_000);

      expect(sut.get('token', 999)).toBe('principal');
      expect(sut.get('token', 1_000)).toBeUndefined();
      expect(sut.size).toBe(0);
      // Once dropped it stays gone, even when asked with an earlier clock.
      expect(sut.get('token', 0)).toBeUndefined();
    });

    it('drops an entry asked for after its expiry', () => {
      const sut = new BoundedCache<string, string>(10);
      sut.set('token', 'principal', 1_000);

      expect(sut.get('token', 5_000)).toBeUndefined();
    });

    it('keeps an entry without expiresAt forever', () => {
      const sut = new BoundedCache<string, string>(10);
      sut.set('k', 'v');

      expect(sut.get('k', Number.MAX_SAFE_INTEGER)).toBe('v');
    });

    it('uses Date.now() when no now is given', () => {
      const sut = new BoundedCache<string, string>(10);
      sut.set('past', 'p', Date.now() - 1_000);
      sut.set('future', 'f', Date.now() + 60_000);

      expect(sut.get('past')).toBeUndefined();
      expect(sut.get('future')).toBe('f');
    });

    it('expires entries independently', () => {
      const sut = new BoundedCache<string, number>(10);
      sut.set('short', 1, 100);
      sut.set('long', 2, 200);

      expect(sut.get('short', 150)).toBeUndefined();
      expect(sut.get('long', 150)).toBe(2);
    });

    it('re-setting a key replaces its expiry', () => {
      const sut = new BoundedCache<string, number>(10);
      sut.set('k', 1, 100);
      sut.set('k', 2, 500);

      expect(sut.get('k', 300)).toBe(2);
    });
  });

  describe('deleteWhere', () => {
    it('removes exactly the entries the predicate selects and returns their count', () => {
      const sut = new BoundedCache<string, { sid: string }>(10);
      sut.set('t1', { sid: 's1' });
      sut.set('t2', { sid: 's2' });
      sut.set('t3', { sid: 's1' });

      const removed = sut.deleteWhere((v) => v.sid === 's1');

      expect(removed).toBe(2);
      expect(sut.size).toBe(1);
      expect(sut.get('t1')).toBeUndefined();
      expect(sut.get('t2')).toEqual({ sid: 's2' });
      expect(sut.get('t3')).toBeUndefined();
    });

    it('passes the key as the second argument', () => {
      const sut = new BoundedCache<string, number>(10);
      sut.set('keep', 1);
      sut.set('drop-me', 2);

      expect(sut.deleteWhere((_v, k) => k.startsWith('drop'))).toBe(1);
      expect(sut.get('keep')).toBe(1);
      expect(sut.get('drop-me')).toBeUndefined();
    });

    it('returns 0 and removes nothing when nothing matches', () => {
      const sut = new BoundedCache<string, number>(10);
      sut.set('a', 1);

      expect(sut.deleteWhere(() => false)).toBe(0);
      expect(sut.size).toBe(1);
    });

    it('can remove every entry', () => {
      const sut = new BoundedCache<number, number>(10);
      for (let i = 0; i < 5; i++) sut.set(i, i);

      expect(sut.deleteWhere(() => true)).toBe(5);
      expect(sut.size).toBe(0);
    });
  });

  describe('delete and clear', () => {
    it('delete removes one entry', () => {
      const sut = new BoundedCache<string, number>(10);
      sut.set('a', 1);
      sut.set('b', 2);

      sut.delete('a');

      expect(sut.get('a')).toBeUndefined();
      expect(sut.get('b')).toBe(2);
      expect(sut.size).toBe(1);
    });

    it('clear removes every entry', () => {
      const sut = new BoundedCache<string, number>(10);
      sut.set('a', 1);
      sut.set('b', 2);

      sut.clear();

      expect(sut.size).toBe(0);
      expect(sut.get('a')).toBeUndefined();
    });
  });

  describe('maxGenerationAgeMs', () => {
    it('lets go of entries nobody asked for in two ages, far below the size bound', () => {
      const sut = new BoundedCache<number, number>(1_000_000);
      sut.maxGenerationAgeMs = 1000;
      // A new key every millisecond for 20 s, each living 1 s.
      for (let t = 0; t < 20_000; t++) sut.set(t, t, t + 1000, t);

      // At most the last two ages' keys are held, however long the stream runs.
      expect(sut.size).toBeLessThanOrEqual(2000);
      expect(sut.size).toBeGreaterThanOrEqual(1000);
      expect(sut.get(19_999, 19_999)).toBe(19_999);
    });

    it('never drops an entry before it expires', () => {
      const sut = new BoundedCache<number, number>(1_000_000);
      sut.maxGenerationAgeMs = 500;
      // Keys set at random moments with random lifetimes up to the age; some read again later.
      let seed = 42;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const expiries = new Map<number, number>();
      let now = 0;
      for (let step = 0; step < 50_000; step++) {
        now += random(5);
        const key = random(5000);
        if (random(3) === 0) {
          const expiresAt = now + 1 + random(500);
          sut.set(key, key, expiresAt, now);
          expiries.set(key, expiresAt);
        } else {
          const expiresAt = expiries.get(key);
          const expected = expiresAt !== undefined && expiresAt > now ? key : undefined;
          expect(sut.get(key, now)).toBe(expected);
        }
      }
    });

    it('keeps turning by size when that comes first', () => {
      const sut = new BoundedCache<number, number>(100);
      sut.maxGenerationAgeMs = 60_000;
      for (let t = 0; t < 1000; t++) sut.set(t, t, t + 60_000, t);

      expect(sut.size).toBeLessThanOrEqual(100);
    });
  });
});
