import { keyPhases, KeyTimes } from './key-phases';

const key = (kid: string, activatesAt: number, extra: Partial<KeyTimes> = {}): KeyTimes => ({
  kid,
  activatesAt,
  retiredAt: null,
  publishUntil: null,
  ...extra,
});

describe(keyPhases.name, () => {
  const old = key('old', 0, { retiredAt: 1000, publishUntil: 5000 });
  const next = key('new', 1000);

  it('before the activation the new key is next and the old one signs', () => {
    const sut = keyPhases([old, next], 500);
    expect(sut.signer).toBe('old');
    expect(sut.phases.get('old')).toEqual({ state: 'active', retiresAt: 1000 });
    expect(sut.phases.get('new')).toEqual({ state: 'next', retiresAt: null });
    expect(sut.changesAt).toBe(1000);
  });

  it('at the activation instant the new key signs and the old one is retiring', () => {
    const sut = keyPhases([old, next], 1000);
    expect(sut.signer).toBe('new');
    expect(sut.phases.get('old')?.state).toBe('retiring');
    expect(sut.phases.get('new')?.state).toBe('active');
    expect(sut.changesAt).toBe(5000);
  });

  it('a retired key leaves when its publication ends, and nothing changes after', () => {
    const sut = keyPhases([old, next], 5000);
    expect([...sut.phases.keys()]).toEqual(['new']);
    expect(sut.changesAt).toBe(Infinity);
  });

  it('two keys left without a retirement by racing rotations: the later one signs', () => {
    const sut = keyPhases([key('a', 0), key('b', 10)], 20);
    expect(sut.signer).toBe('b');
    expect(sut.phases.get('a')).toEqual({ state: 'retiring', retiresAt: 10 });
  });

  it('no key activated yet: nothing signs', () => {
    const sut = keyPhases([key('a', 100)], 0);
    expect(sut.signer).toBeUndefined();
    expect(sut.changesAt).toBe(100);
  });
});
