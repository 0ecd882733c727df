import { Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import { DomainError } from '../../src/common/problem/domain-error';
import { MetricsService } from '../../src/metrics/metrics.service';
import { RateLimiterService } from '../../src/restrictions/rate-limit/rate-limiter.service';
import { DEFAULT_SETTINGS, Settings } from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { strict } from './strict-mock';

export const NOW = Date.parse('2026-12-01T09:00:00Z');
export const IP = '203.0.113.7';

/** The error a call throws or a promise rejects with; fails the test when there is none. */
export async function refusal(run: () => unknown): Promise<DomainError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

export interface RateLimiterSpec {
  metrics: { rateLimitShared: jest.Mock };
  /** As SettingsService does: a change is a new document. */
  changeBudget(rateLimit: Settings['rateLimit']): void;
  /** A limiter over `storage`, under the current settings. */
  over(storage: ThrottlerStorage): RateLimiterService;
}

/**
 * Settings of 3 requests a minute and a clock stopped at NOW, afresh before each test of the
 * describe block that calls this; `metrics` is replaced each time, so read it in a beforeEach
 * or a test.
 */
export function rateLimiterSpec(): RateLimiterSpec {
  let settings: Settings;
  let settingsService: SettingsService;
  const spec = {
    changeBudget: (rateLimit) => {
      settings = { ...settings, rateLimit };
    },
    over: (storage) =>
      new RateLimiterService(storage, settingsService, strict<MetricsService>(spec.metrics)),
  } as RateLimiterSpec;

  beforeEach(() => {
    jest.useFakeTimers({ now: NOW });
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    settings = structuredClone(DEFAULT_SETTINGS);
    settings.rateLimit = { enabled: true, requests: 3, windowSeconds: 60 };
    spec.metrics = { rateLimitShared: jest.fn() };
    settingsService = strict<SettingsService>({ get: jest.fn(() => settings) });
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  return spec;
}
