import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AuditSink } from '../../audit/audit.port';
import { Clock } from '../../common/clock';
import { LocalInvalidationBus } from '../../common/invalidation/invalidation-bus';
import { WardenConfig } from '../../config/warden-config';
import { JobLock } from '../../common/database/job-lock';
import { DEFAULT_SETTINGS, Settings } from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { KeyRingService } from './key-ring.service';
import { SigningKeyEntity } from './signing-key.entity';
import { SigningKeysRepository } from './signing-keys.repository';

const PRE_PUBLISH_MS = DEFAULT_SETTINGS.keys.prePublishSeconds * 1000;
const DAY_MS = 86_400_000;

/** The repository's rules over an array, as the integration suite checks them on both databases. */
class MemoryKeys {
  rows: SigningKeyEntity[] = [];
  async findPublished(now: Date) {
    return this.rows
      .filter((r) => r.publishUntil === null || r.publishUntil > now)
      .sort((a, b) => a.activatesAt.getTime() - b.activatesAt.getTime());
  }
  async findLatest() {
    return (await this.findPublished(new Date(0))).at(-1) ?? null;
  }
  async insert(row: SigningKeyEntity) {
    this.rows.push(structuredClone(row));
    return row;
  }
  async retireBefore(newest: { kid: string; activatesAt: Date }, publishUntil: Date) {
    for (const r of this.rows)
      if (r.retiredAt === null && r.activatesAt < newest.activatesAt) {
        r.retiredAt = newest.activatesAt;
        r.publishUntil = publishUntil;
      }
  }
  async removeUnpublishedBefore(now: Date) {
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => r.publishUntil === null || r.publishUntil >= now);
    return before - this.rows.length;
  }
}

describe(KeyRingService.name, () => {
  let now: number;
  let settings: Settings;
  let repository: MemoryKeys;
  let bus: LocalInvalidationBus;
  let audit: { record: jest.Mock };
  let lockHeld: boolean;
  let instances: KeyRingService[];

  const instance = () => {
    const sut = new KeyRingService(
      repository as unknown as SigningKeysRepository,
      { get: () => settings } as unknown as SettingsService,
      { now: () => now } as Clock,
      bus,
      audit as unknown as AuditSink,
      {
        runAlone: async (_id: number, work: () => Promise<void>) => {
          if (lockHeld) return false;
          await work();
          return true;
        },
      } as unknown as JobLock,
      { encryptionKey: { key }, signingAlgorithm: 'ES256' } as WardenConfig,
    );
    instances.push(sut);
    return sut;
  };
  const key = randomBytes(32);

  beforeEach(() => {
    jest.useFakeTimers({ now: Date.parse('2026-11-20T09:00:00Z') });
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    now = Date.now();
    settings = structuredClone(DEFAULT_SETTINGS);
    repository = new MemoryKeys();
    bus = new LocalInvalidationBus();
    audit = { record: jest.fn() };
    lockHeld = false;
    instances = [];
  });
  afterEach(() => {
    for (const sut of instances) sut.onModuleDestroy();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  /** Moves both the clock and the timers, as time passing does. */
  const pass = (ms: number) => {
    now += ms;
    jest.advanceTimersByTime(ms);
  };

  it('the first key, with no key at all, signs at once', async () => {
    const sut = instance();
    await sut.onModuleInit();
    const [first] = await sut.list();
    expect(first.state).toBe('active');
    expect(first.activatesAt).toBe(new Date(now).toISOString());
    expect(sut.signingKey().kid).toBe(first.kid);
  });

  it('a rotated key is published as next, and the switch comes from the timer at its activation', async () => {
    const sut = instance();
    await sut.onModuleInit();
    const old = sut.signingKey().kid!;
    const rotated = await sut.rotate();

    expect(rotated.state).toBe('next');
    expect(Date.parse(rotated.activatesAt) - now).toBe(PRE_PUBLISH_MS);
    expect(sut.signingKey().kid).toBe(old);
    expect(sut.publishedKeys().keys.map((k) => k.kid)).toEqual([old, rotated.kid]);

    pass(PRE_PUBLISH_MS - 1);
    expect((await sut.list()).map((k) => k.state)).toEqual(['active', 'next']);
    // Not through signingKey(): the timer alone moves the state.
    const states = () => (sut as unknown as { phases: Map<string, { state: string }> }).phases;
    pass(1);
    expect(states().get(rotated.kid)?.state).toBe('active');
    expect(states().get(old)?.state).toBe('retiring');
    expect(sut.signingKey().kid).toBe(rotated.kid);
    expect(audit.record).toHaveBeenCalledWith(
      expect.objectContaining({
        event: 'keys.rotated',
        details: expect.objectContaining({ kid: rotated.kid }),
      }),
    );
  });

  it('an instance that loaded the next key switches at its activation without reading the database again', async () => {
    const a = instance();
    await a.onModuleInit();
    const b = instance();
    await b.onModuleInit();
    const rotated = await a.rotate();
    // The bus (here in process) brought the row to B at once.
    await Promise.resolve();
    await b.reload();
    // From here on the database cannot be read: the switch needs none.
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(repository, 'findPublished').mockRejectedValue(new Error('database down'));
    pass(PRE_PUBLISH_MS - 1);
    expect(b.signingKey().kid).not.toBe(rotated.kid);
    pass(1);
    expect(b.signingKey().kid).toBe(rotated.kid);
    expect(b.publishedKeys().keys.map((k) => k.kid)).toContain(rotated.kid);
  });

  it('a retired key leaves the JWKS once the longest token it signed has expired', async () => {
    const sut = instance();
    await sut.onModuleInit();
    const old = sut.signingKey().kid!;
    await sut.rotate();
    pass(PRE_PUBLISH_MS);
    const [retiring] = await sut.list();
    expect(retiring).toMatchObject({ kid: old, state: 'retiring' });
    const until = Date.parse(retiring.publishedUntil!);
    expect(until - Date.parse(retiring.retiresAt!)).toBeGreaterThan(
      settings.tokens.refreshTtlSeconds * 1000,
    );
    pass(until - now - 1);
    expect(sut.publishedKeys().keys.map((k) => k.kid)).toContain(old);
    pass(1);
    expect(sut.publishedKeys().keys.map((k) => k.kid)).not.toContain(old);
    expect(sut.knownKey(old)).toBeUndefined();
  });

  it('rotates on schedule once per period, across instances, and never with 0 days', async () => {
    settings.keys.rotateEveryDays = 1;
    const a = instance();
    const b = instance();
    await a.onModuleInit();
    await b.onModuleInit();
    expect(await a.rotateOnSchedule()).toBeNull();

    pass(DAY_MS);
    const rotated = await a.rotateOnSchedule();
    expect(rotated?.state).toBe('next');
    expect(await b.rotateOnSchedule()).toBeNull();
    expect(repository.rows).toHaveLength(2);
    expect(audit.record).toHaveBeenLastCalledWith(
      expect.objectContaining({ event: 'keys.rotated', reason: 'schedule', actor: 'system' }),
    );

    lockHeld = true;
    pass(2 * DAY_MS);
    expect(await b.rotateOnSchedule()).toBeNull();
    lockHeld = false;

    settings.keys.rotateEveryDays = 0;
    expect(await b.rotateOnSchedule()).toBeNull();
    expect(repository.rows).toHaveLength(2);
  });

  it('a rotation while a key is pending comes after it', async () => {
    const sut = instance();
    await sut.onModuleInit();
    const first = await sut.rotate();
    settings.keys.prePublishSeconds = 360;
    const second = await sut.rotate();
    expect(Date.parse(second.activatesAt)).toBeGreaterThan(Date.parse(first.activatesAt));
    const states = (await sut.list()).map((k) => [k.kid, k.state, k.retiresAt]);
    expect(states).toEqual([
      [expect.any(String), 'active', first.activatesAt],
      [first.kid, 'next', second.activatesAt],
      [second.kid, 'next', null],
    ]);
  });
});
