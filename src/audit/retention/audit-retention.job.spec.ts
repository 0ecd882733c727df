import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DEFAULT_SETTINGS, Settings } from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { AuditRetentionJob, RETENTION_JOB_NAME } from './audit-retention.job';
import { AuditRetentionService } from './audit-retention.service';

/** Parses, never fires: there is no 30 February. */
const NEVER = '0 0 30 2 *';
const DAILY = '0 3 * * *';
const HOURLY = DEFAULT_SETTINGS.audit.purgeCron;

describe(AuditRetentionJob.name, () => {
  let registry: SchedulerRegistry;
  let stored: string;
  let listeners: ((settings: Settings) => void)[];
  let errors: string[];
  let sut: AuditRetentionJob;

  const settingsWith = (purgeCron: string): Settings => ({
    ...DEFAULT_SETTINGS,
    audit: { ...DEFAULT_SETTINGS.audit, purgeCron },
  });
  /** A settings change as SettingsService announces it, on every instance. */
  const change = (purgeCron: string) => {
    stored = purgeCron;
    for (const listener of listeners) listener(settingsWith(purgeCron));
  };
  const running = () => registry.getCronJob(RETENTION_JOB_NAME);

  beforeEach(() => {
    registry = new SchedulerRegistry();
    stored = HOURLY;
    listeners = [];
    errors = [];
    const settings = {
      get: () => settingsWith(stored),
      onChange: (listener: (settings: Settings) => void) => listeners.push(listener),
    } as unknown as SettingsService;
    const retention = { purgeOnSchedule: jest.fn() } as unknown as AuditRetentionService;
    sut = new AuditRetentionJob(registry, settings, retention);
    jest
      .spyOn(Logger.prototype, 'error')
      .mockImplementation((m: unknown) => void errors.push(String(m)));
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    for (const name of registry.getCronJobs().keys()) registry.deleteCronJob(name);
  });

  it('schedules the stored expression at start and a new one at once', () => {
    sut.onApplicationBootstrap();
    expect(sut.expression).toBe(HOURLY);
    expect(running().isActive).toBe(true);
    expect(sut.nextRunAt()!.getUTCMinutes()).toBe(0);

    change(DAILY);

    expect(sut.expression).toBe(DAILY);
    expect(running().isActive).toBe(true);
    expect(sut.nextRunAt()!.getUTCHours()).toBe(3);
    expect(registry.getCronJobs().size).toBe(1);
    expect(errors).toEqual([]);
  });

  it('keeps the job in force when a new expression never fires, and logs it once', () => {
    sut.onApplicationBootstrap();
    const before = running();

    change(NEVER);
    change(NEVER);

    expect(running()).toBe(before);
    expect(before.isActive).toBe(true);
    expect(sut.expression).toBe(HOURLY);
    expect(sut.nextRunAt()).toBeInstanceOf(Date);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(NEVER);
    expect(errors[0]).toContain(HOURLY);
  });

  it('after a refused expression, setting the old one back or a new one works', () => {
    sut.onApplicationBootstrap();
    change(NEVER);
    change(HOURLY);
    expect(sut.expression).toBe(HOURLY);
    expect(running().isActive).toBe(true);

    change(NEVER);
    change(DAILY);
    expect(sut.expression).toBe(DAILY);
    expect(running().isActive).toBe(true);
    expect(sut.nextRunAt()!.getUTCHours()).toBe(3);
  });

  it('refuses an expression that does not parse', () => {
    sut.onApplicationBootstrap();
    change('every hour');
    expect(sut.expression).toBe(HOURLY);
    expect(running().isActive).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('starts on the default expression, with an error, when the stored one never fires', () => {
    stored = NEVER;

    expect(() => sut.onApplicationBootstrap()).not.toThrow();

    expect(sut.expression).toBe(HOURLY);
    expect(running().isActive).toBe(true);
    expect(sut.nextRunAt()!.getUTCMinutes()).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(NEVER);
    expect(errors[0]).toContain(HOURLY);

    // Repaired in the settings: the job follows.
    change(DAILY);
    expect(sut.expression).toBe(DAILY);
    expect(sut.nextRunAt()!.getUTCHours()).toBe(3);
  });
});
