import { InvalidationBus } from '../common/invalidation/invalidation-bus';
import { WardenConfig } from '../config/warden-config';
import { DEFAULT_SETTINGS } from './settings.defaults';
import { SettingsRepository } from './settings.repository';
import { diff, mergePatch, SettingsService } from './settings.service';

describe('settings document helpers', () => {
  describe('mergePatch', () => {
    afterEach(() => {
      // Should a case fail by polluting the prototype, the others must not inherit it.
      delete (Object.prototype as Record<string, unknown>).polluted;
      delete (Object.getPrototypeOf(structuredClone({})) as Record<string, unknown>).polluted;
    });

    it('merges nested objects, keeping what the patch does not name', () => {
      const sut = mergePatch({ a: { b: 1, c: 2 }, d: 1 }, { a: { b: 3 } });
      expect(sut).toEqual({ a: { b: 3, c: 2 }, d: 1 });
    });

    it('adds keys the target lacks, at any depth', () => {
      expect(mergePatch({ a: { b: 1 } }, { a: { c: { d: 2 } }, e: 3 })).toEqual({
        a: { b: 1, c: { d: 2 } },
        e: 3,
      });
    });

    it('replaces arrays rather than merging them', () => {
      expect(mergePatch({ list: [1, 2, 3] }, { list: [4] })).toEqual({ list: [4] });
      expect(mergePatch({ list: [1, 2] }, { list: [] })).toEqual({ list: [] });
      expect(mergePatch({ list: [1, 2] }, { list: { 0: 9 } })).toEqual({ list: { 0: 9 } });
      expect(mergePatch({ o: { a: 1 } }, { o: [1] })).toEqual({ o: [1] });
    });

    it('keeps null as a value instead of deleting the key', () => {
      expect(mergePatch({ a: { b: 1, c: 2 } }, { a: { b: null } })).toEqual({
        a: { b: null, c: 2 },
      });
      const sut = mergePatch({ a: { b: 1 } }, { a: null });
      expect(sut).toHaveProperty('a', null);
    });

    it('replaces a scalar with an object and an object with a scalar', () => {
      expect(mergePatch({ a: 1 }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
      expect(mergePatch({ a: { b: 2 } }, { a: 'x' })).toEqual({ a: 'x' });
    });

    it('starts from an empty object when the target is not one', () => {
      expect(mergePatch(null, { a: 1 })).toEqual({ a: 1 });
      expect(mergePatch([1, 2], { a: 1 })).toEqual({ a: 1 });
      expect(mergePatch('x', { a: 1 })).toEqual({ a: 1 });
    });

    it('ignores __proto__, constructor and prototype keys: no prototype pollution', () => {
      const sut = mergePatch({}, JSON.parse('{"__proto__":{"polluted":1},"ok":1}'));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((sut as Record<string, unknown>).polluted).toBeUndefined();
      // A plain object (its prototype may come from another realm: structuredClone is Node's own).
      const proto = Object.getPrototypeOf(sut);
      expect(proto.constructor.name).toBe('Object');
      expect(Object.getPrototypeOf(proto)).toBeNull();
      expect(Object.keys(proto)).toEqual([]);
      expect(Object.keys(sut)).toEqual(['ok']);

      mergePatch({ a: {} }, JSON.parse('{"a":{"__proto__":{"polluted":1}}}'));
      mergePatch({}, JSON.parse('{"constructor":{"prototype":{"polluted":1}}}'));
      mergePatch({ a: {} }, JSON.parse('{"a":{"constructor":{"prototype":{"polluted":1}}}}'));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((structuredClone({}) as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.keys(mergePatch({}, JSON.parse('{"prototype":{"x":1}}')))).toEqual([]);
    });

    it('mutates neither input and shares no objects with them', () => {
      const target = { a: { b: 1, list: [1, 2] }, c: { d: 1 } };
      const patch = { a: { b: 2 }, e: { f: [3] } };
      const targetBefore = structuredClone(target);
      const patchBefore = structuredClone(patch);

      const sut = mergePatch(target, patch) as {
        a: { b: number; list: number[] };
        c: { d: number };
        e: { f: number[] };
      };
      expect(target).toEqual(targetBefore);
      expect(patch).toEqual(patchBefore);

      sut.a.list.push(99);
      sut.c.d = 42;
      sut.e.f.push(99);
      expect(target).toEqual(targetBefore);
      expect(patch).toEqual(patchBefore);
    });

    it('leaves the default settings untouched when patching them', () => {
      const before = structuredClone(DEFAULT_SETTINGS);
      const sut = mergePatch(DEFAULT_SETTINGS, { basicAuth: { enabled: false } });
      expect(sut).toMatchObject({ basicAuth: { enabled: false } });
      expect(DEFAULT_SETTINGS).toEqual(before);
    });
  });

  describe('diff', () => {
    it('lists nothing for equal documents', () => {
      expect(diff({}, {})).toEqual({});
      expect(diff({ a: { b: [1, 2] }, c: null }, { a: { b: [1, 2] }, c: null })).toEqual({});
      expect(diff(DEFAULT_SETTINGS, structuredClone(DEFAULT_SETTINGS))).toEqual({});
    });

    it('lists each changed leaf by its dotted path with from and to', () => {
      const sut = diff(
        { a: { b: 1, c: 2 }, d: { e: { f: 'x' } }, g: true },
        { a: { b: 3, c: 2 }, d: { e: { f: 'y' } }, g: true },
      );
      expect(sut).toEqual({
        'a.b': { from: 1, to: 3 },
        'd.e.f': { from: 'x', to: 'y' },
      });
    });

    it('lists added and removed keys', () => {
      expect(diff({ a: { b: 1 } }, { a: { b: 1, c: 2 } })).toEqual({
        'a.c': { from: undefined, to: 2 },
      });
      expect(diff({ a: { b: 1, c: 2 } }, { a: { b: 1 } })).toEqual({
        'a.c': { from: 2, to: undefined },
      });
    });

    it('compares arrays whole', () => {
      expect(diff({ l: [1, 2] }, { l: [1, 3] })).toEqual({ l: { from: [1, 2], to: [1, 3] } });
      expect(diff({ l: [{ a: 1 }] }, { l: [{ a: 1 }] })).toEqual({});
    });

    it('lists a change of type at the path where it happens', () => {
      expect(diff({ a: { b: 1 } }, { a: 5 })).toEqual({ a: { from: { b: 1 }, to: 5 } });
      expect(diff({ a: null }, { a: { b: 1 } })).toEqual({ a: { from: null, to: { b: 1 } } });
    });

    it('describes a settings change as an admin made it', () => {
      const next = mergePatch(DEFAULT_SETTINGS, {
        basicAuth: { enabled: false },
        ip: { allow: ['10.0.0.0/8'] },
      });
      expect(diff(DEFAULT_SETTINGS, next)).toEqual({
        'basicAuth.enabled': { from: true, to: false },
        'ip.allow': { from: [], to: ['10.0.0.0/8'] },
      });
    });
  });
});

describe(SettingsService.name, () => {
  /** A service over one stored row holding `document`. */
  async function serviceOver(document: Record<string, unknown>): Promise<SettingsService> {
    const repository = {
      createIfMissing: jest.fn().mockResolvedValue(undefined),
      load: jest
        .fn()
        .mockResolvedValue({ id: 'global', version: 3, document: JSON.stringify(document) }),
      version: jest.fn().mockResolvedValue(3),
    } as unknown as SettingsRepository;
    const bus = { subscribe: jest.fn(), publish: jest.fn() } as unknown as InvalidationBus;
    const config = {
      encryptionKey: { key: Buffer.alloc(32, 7) },
      issuer: 'http://warden.test',
      idpAllowHttp: false,
    } as unknown as WardenConfig;
    const sut = new SettingsService(repository, bus, config);
    await sut.onModuleInit();
    sut.onModuleDestroy();
    return sut;
  }

  it('gives a stored document written before upstreamSessions existed its defaults', async () => {
    const { upstreamSessions: _absent, ...older } = structuredClone(DEFAULT_SETTINGS);
    const sut = await serviceOver({ ...older, rateLimit: { ...older.rateLimit, requests: 7 } });
    expect(sut.get().upstreamSessions).toEqual({ decision: true, cacheSeconds: 30 });
    expect(sut.get().rateLimit.requests).toBe(7);
  });

  it('keeps upstreamSessions as stored', async () => {
    const sut = await serviceOver({
      ...structuredClone(DEFAULT_SETTINGS),
      upstreamSessions: { decision: false, cacheSeconds: 5 },
    });
    expect(sut.get().upstreamSessions).toEqual({ decision: false, cacheSeconds: 5 });
  });

  it.each([
    [{ decision: true, cacheSeconds: 0 }],
    [{ decision: true, cacheSeconds: 301 }],
    [{ decision: true, cacheSeconds: 1.5 }],
    [{ decision: true, cacheSeconds: '30' }],
    [{ decision: 'yes', cacheSeconds: 30 }],
    [{ cacheSeconds: 30 }],
    [[]],
    [null],
  ])('refuses upstreamSessions %j with a 400 naming the field', async (upstreamSessions) => {
    const sut = await serviceOver(structuredClone(DEFAULT_SETTINGS) as never);
    const document = { ...structuredClone(DEFAULT_SETTINGS), upstreamSessions };
    await expect(sut.check(document)).rejects.toMatchObject({
      status: 400,
      code: 'validation_failed',
      detail: expect.stringContaining('upstreamSessions'),
    });
  });

  it('accepts cacheSeconds from 1 to 300', async () => {
    const sut = await serviceOver(structuredClone(DEFAULT_SETTINGS) as never);
    for (const cacheSeconds of [1, 300]) {
      const document = {
        ...structuredClone(DEFAULT_SETTINGS),
        upstreamSessions: { decision: false, cacheSeconds },
      };
      await expect(sut.check(document)).resolves.toMatchObject({
        upstreamSessions: { decision: false, cacheSeconds },
      });
    }
  });
});
