interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A size-bounded cache in two generations: new entries go to the young Map; when it holds half
 * the bound it becomes the old generation and the previous old one is dropped whole. A hit in
 * the old generation moves the entry back to the young one, so entries in use survive.
 *
 * Every operation is O(1). (Evicting "the oldest key" from a single Map would not be: after
 * many deletions at its front, `keys().next()` walks over the deleted slots each time.)
 * Entries may carry an expiry (ms since epoch).
 *
 * Expired entries are otherwise only dropped when asked for or pushed out by newer ones, so a
 * cache of short-lived entries under a stream of new keys would sit at its bound, holding
 * mostly dead entries. With `maxGenerationAgeMs` set (no entry lives longer than it), the young
 * generation also turns old once it is that old: an entry is then dropped at the latest two
 * such ages after it was last set or read, never before it expires.
 */
export class BoundedCache<K, V> {
  private young = new Map<K, Entry<V>>();
  private old = new Map<K, Entry<V>>();
  private readonly generationSize: number;
  /** When the first entry of the young generation went in. */
  private youngSince = 0;
  /** The longest any entry lives (ms), if known: see above. */
  maxGenerationAgeMs = Number.POSITIVE_INFINITY;

  constructor(readonly maxEntries: number) {
    this.generationSize = Math.max(1, Math.floor(maxEntries / 2));
  }

  get(key: K, now = Date.now()): V | undefined {
    let entry = this.young.get(key);
    if (entry === undefined) {
      entry = this.old.get(key);
      if (entry === undefined) return undefined;
      this.old.delete(key);
      if (entry.expiresAt > now) this.insert(key, entry, now);
    }
    if (entry.expiresAt <= now) {
      this.young.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: K, value: V, expiresAt = Number.POSITIVE_INFINITY, now = Date.now()): void {
    this.old.delete(key);
    this.insert(key, { value, expiresAt }, now);
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  /** Drops every entry the predicate selects (revocations that cannot be keyed directly). */
  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    let removed = 0;
    for (const generation of [this.young, this.old]) {
      for (const [key, entry] of generation) {
        if (predicate(entry.value, key)) {
          generation.delete(key);
          removed++;
        }
      }
    }
    return removed;
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  private insert(key: K, entry: Entry<V>, now: number): void {
    // An old generation dropped here went young at least maxGenerationAgeMs before the young one
    // did, itself at least that long ago: every entry in it has expired.
    if (this.young.size > 0 && now - this.youngSince >= this.maxGenerationAgeMs) this.turn();
    if (this.young.size === 0) this.youngSince = now;
    this.young.set(key, entry);
    if (this.young.size >= this.generationSize) this.turn();
  }

  private turn(): void {
    this.old = this.young;
    this.young = new Map();
  }
}
