import { opaqueTokensOverlap, samplesOf } from './opaque-token-overlap';

describe(opaqueTokensOverlap.name, () => {
  it.each<[string, string, boolean]>([
    ['^idp_[A-Za-z0-9]{40}$', '^idp_[A-Za-z0-9]{40}$', true],
    ['^idp_[A-Za-z0-9]{40}$', '^[A-Za-z0-9_]{44}$', true],
    ['^(?:opaque|made-up)-[A-Za-z0-9-]+$', '^[A-Za-z0-9_-]{43}$', true],
    ['^idp_[0-9]{4}$', '^[a-z_]+[0-9]+$', true],
    ['^a\\.b$', '^a.b$', true],
    ['^idp_[A-Za-z0-9]{40}$', '^gh[pousr]_[A-Za-z0-9]{36}$', false],
    ['^idp_[a-z]{8}$', '^oth_[a-z]{8}$', false],
    ['^[0-9]{10}$', '^[a-z]{10}$', false],
    // The documented limit: shared tokens that no sample of either hits.
    ['^x[a-z]{8}$', '^[a-z]{4}q[a-z]{4}$', false],
    // A lookaround is not sampled: only the other pattern's samples can find an overlap…
    ['^(?=idp)[a-z_]{8}$', '^idp_[a-z]{4}$', true],
    // … and here none does, though `xaaaqaaaa` is both's.
    ['^(?=x)[a-z]{9}$', '^[a-z]{4}q[a-z]{4}$', false],
  ])('%s and %s: %s', (a, b, overlap) => {
    expect(opaqueTokensOverlap(a, b)).toBe(overlap);
    expect(opaqueTokensOverlap(b, a)).toBe(overlap);
  });

  it('every sample matches its own pattern', () => {
    const pattern = '^(?:ab|cd)[x-z]{2,5}\\d?$';
    const samples = samplesOf(pattern)!;
    expect(samples.length).toBeGreaterThan(3);
    for (const sample of samples) expect(sample).toMatch(new RegExp(pattern));
  });
});
