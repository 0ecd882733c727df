import { AuthenticatorService, AuthRequest } from '../../src/auth/authenticator.service';
import { DomainError, Problems } from '../../src/common/problem/domain-error';
import type { ProblemCodeFor } from '../../src/common/problem/problem-codes';
import { AccessPipeline, JudgeInput } from '../../src/restrictions/access-pipeline.service';
import { NativeTokenRule } from '../../src/restrictions/native-token.rule';
import {
  RateLimiterService,
  RateLimitState,
} from '../../src/restrictions/rate-limit/rate-limiter.service';
import { RestrictionsService } from '../../src/restrictions/restrictions.service';
import { DEFAULT_SETTINGS, Settings } from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { principal } from './principal';
import { settled } from './maybe-promise';
import { strict } from './strict-mock';

export const IP = '203.0.113.7';
export const OTHER_NETWORK = '10.0.0.0/8';
export const STATE: RateLimitState = { limit: 100, remaining: 99, reset: 60, windowSeconds: 60 };
export const PASSWORD = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
export const API_TOKEN_AS_PASSWORD = `Basic ${Buffer.from('alice:wdn_abc').toString('base64')}`;

export const refused = (code: ProblemCodeFor<401>) =>
  Problems.unauthorized('refused', [{ scheme: 'Bearer' }], code);

/** The error a call throws or rejects with; fails the test when it answers. */
export async function rejection(run: () => unknown): Promise<DomainError> {
  const outcome = await settled(run).then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  if (!('err' in outcome)) throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`);
  if (!(outcome.err instanceof DomainError)) throw outcome.err;
  return outcome.err;
}

export interface AccessPipelineSpec {
  authenticator: { authenticate: jest.Mock };
  limiter: {
    consume: jest.Mock;
    countRefused: jest.Mock;
    assertPasswordChecksAllowed: jest.Mock;
    beginLogin: jest.Mock;
  };
  loginEnded: jest.Mock;
  native: { passes: jest.Mock };
  /** The pipeline on the default settings. */
  sut: AccessPipeline;
  /** Builds the pipeline on the settings as the test left them (the rules compile once). */
  build(change?: (s: Settings) => void): AccessPipeline;
  /** A GET of an API path from IP, with the given changes. */
  input(overrides?: Partial<JudgeInput> & { authorization?: string }): JudgeInput;
}

/**
 * An AccessPipeline over strict mocks and the real restriction rules, built afresh before each
 * test of the describe block that calls this; the fields are replaced each time, so read them in
 * a beforeEach or a test.
 */
export function accessPipelineSpec(): AccessPipelineSpec {
  let settings: Settings;
  const spec = {
    build: (change: (s: Settings) => void = () => undefined) => {
      change(settings);
      const settingsService = strict<SettingsService>({
        get: jest.fn(() => settings),
        onChange: jest.fn(),
      });
      return new AccessPipeline(
        strict<AuthenticatorService>(spec.authenticator),
        new RestrictionsService(settingsService),
        strict<RateLimiterService>(spec.limiter),
        settingsService,
        strict<NativeTokenRule>(spec.native),
      );
    },
    input: (overrides: Partial<JudgeInput> & { authorization?: string } = {}): JudgeInput => {
      const { authorization, ...rest } = overrides;
      return {
        method: 'GET',
        path: '/rest/api/2/issue/1',
        request: { headers: authorization ? { authorization } : {}, ip: IP } as AuthRequest,
        policy: { api: true },
        ...rest,
      };
    },
  } as AccessPipelineSpec;

  beforeEach(() => {
    settings = structuredClone(DEFAULT_SETTINGS);
    spec.authenticator = { authenticate: jest.fn(async () => ({ principal: principal() })) };
    const loginEnded = jest.fn();
    spec.loginEnded = loginEnded;
    spec.limiter = {
      consume: jest.fn(() => STATE),
      countRefused: jest.fn(async () => undefined),
      assertPasswordChecksAllowed: jest.fn(),
      beginLogin: jest.fn(async () => loginEnded),
    };
    spec.native = { passes: jest.fn(() => false) };
    spec.sut = spec.build();
  });

  return spec;
}
