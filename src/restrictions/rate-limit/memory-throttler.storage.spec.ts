import { MemoryThrottlerStorage } from './memory-throttler.storage';

describe('MemoryThrottlerStorage', () => {
  let now: number;
  const storage = () => new MemoryThrottlerStorage(() => now);
  beforeEach(() => (now = 1_000_000));

  it('counts hits per key within a window and blocks beyond the limit', () => {
    const sut = storage();
    for (let i = 1; i <= 3; i++)
      expect(sut.incrementNow('a', 1000, 3, 5000, 'default').totalHits).toBe(i);
    const fourth = sut.incrementNow('a', 1000, 3, 5000, 'default');

    expect(fourth.isBlocked).toBe(true);
    expect(fourth.timeToBlockExpire).toBe(5);
    expect(sut.incrementNow('b', 1000, 3, 5000, 'default').totalHits).toBe(1);
  });

  it('starts a new window once the old one has expired', () => {
    const sut = storage();
    sut.incrementNow('a', 1000, 3, 0, 'default');
    sut.incrementNow('a', 1000, 3, 0, 'default');
    now += 1000;

    expect(sut.incrementNow('a', 1000, 3, 0, 'default').totalHits).toBe(1);
  });

  it('lets go of the windows of callers gone quiet, under a stream of new callers', () => {
    const sut = storage();
    // 100 new client addresses a second for a minute, one request each, 1 s windows.
    for (let i = 0; i < 6000; i++) {
      sut.incrementNow(`ip:${i}`, 1000, 10, 0, 'default');
      now += 10;
    }

    // About the last two seconds' callers, not 6,000.
    expect(sut.size).toBeLessThanOrEqual(200);
  });

  it('never forgets a live window or block while others come and go', () => {
    const sut = storage();
    const others = (ms: number) => {
      for (let i = 0; i < ms; i++, now++) sut.incrementNow(`ip:${now}`, 1000, 5, 3000, 'default');
    };
    // Generations turn by age while other callers pass (the longest life asked for is 3 s)…
    others(2900);
    // …a caller spends its budget and is blocked for 3 s, its window set late in a generation…
    for (let i = 0; i < 5; i++) sut.incrementNow('greedy', 1000, 5, 3000, 'default');
    expect(sut.incrementNow('greedy', 1000, 5, 3000, 'default').isBlocked).toBe(true);
    others(2950);

    // …and is still blocked near the end of its block, a generation turn later.
    const later = sut.incrementNow('greedy', 1000, 5, 3000, 'default');
    expect(later.isBlocked).toBe(true);
    expect(later.totalHits).toBe(7);
    now += 50;
    expect(sut.incrementNow('greedy', 1000, 5, 3000, 'default').totalHits).toBe(1);
  });
});

describe('MemoryThrottlerStorage.peek', () => {
  it('reads a window without counting, and knows no window it never counted', () => {
    let now = 1_000_000;
    const sut = new MemoryThrottlerStorage(() => now);
    expect(sut.peek('k', 'api')).toBeNull();
    sut.incrementNow('k', 60_000, 2, 60_000, 'api');
    sut.incrementNow('k', 60_000, 2, 60_000, 'api');
    for (let i = 0; i < 3; i++)
      expect(sut.peek('k', 'api')).toMatchObject({ totalHits: 2, isBlocked: false });
    expect(sut.incrementNow('k', 60_000, 2, 60_000, 'api').isBlocked).toBe(true);
    expect(sut.peek('k', 'api')).toMatchObject({ totalHits: 3, isBlocked: true });
    now += 120_001;
    expect(sut.peek('k', 'api')).toBeNull();
  });
});
