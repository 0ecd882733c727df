import { DomainError } from '../../src/common/problem/domain-error';
import { AuthenticationRules, AuthenticatorService } from '../../src/auth/authenticator.service';
import { CachedUser, UserCache } from '../../src/auth/directory/user-cache';
import { UserEntity } from '../../src/auth/directory/user.entity';
import { CredentialKinds } from '../../src/auth/kinds/credential-kinds';
import { RevocationService } from '../../src/auth/sessions/revocation.service';
import {
  AccessTokenKind,
  AccessTokenStrategy,
} from '../../src/auth/strategies/access-token.strategy';
import { BasicKind, BasicStrategy } from '../../src/auth/strategies/basic.strategy';
import {
  RefreshTokenKind,
  RefreshTokenStrategy,
} from '../../src/auth/strategies/refresh-token.strategy';
import { StrategyRequest, StrategyRunner } from '../../src/auth/strategies/strategy-runner';
import { WardenClaims } from '../../src/auth/warden-tokens.service';
import { DEFAULT_SETTINGS, Settings } from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { ApiTokenEntity } from '../../src/tokens/api-token.entity';
import { ApiTokenKind, ApiTokenStrategy } from '../../src/tokens/api-token.strategy';
import { TokensService } from '../../src/tokens/tokens.service';
import { MovableClock } from './clock';
import { settled } from './maybe-promise';
import { strict } from './strict-mock';

export const NOW = 1_800_000_000_000;
export const USER: CachedUser = {
  id: 'u-alice',
  username: 'alice',
  groups: ['staff'],
  disabled: false,
};

/** The routes the application has: an API call, the renewal, the password exchange. */
export const API: AuthenticationRules = { kinds: ['access', 'api-token', 'basic'] };
export const REAUTH: AuthenticationRules = { kinds: ['refresh'] };
export const LOGIN: AuthenticationRules = { kinds: ['basic'], login: true };

export const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';
export const API_TOKEN = 'wdn_0123456789abcdef';
export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * A passport strategy as the StrategyRunner drives it: `authenticate` on a fresh object whose
 * prototype is this one, reporting through success / error. Records every request it is run on.
 */
export function fakeStrategy(verify: (request: StrategyRequest) => unknown) {
  const seen: StrategyRequest[] = [];
  return {
    seen,
    authenticate(
      this: { success(v: unknown): void; error(e: unknown): void },
      request: StrategyRequest,
    ) {
      seen.push(request);
      try {
        this.success(verify(request));
      } catch (err) {
        this.error(err);
      }
    },
  };
}

export const claims = (exp = NOW / 1000 + 300): WardenClaims => ({
  iss: 'warden',
  sub: USER.id,
  aud: 'warden',
  exp,
  iat: NOW / 1000,
  jti: 'jti-1',
  sid: 'session-1',
});

function apiToken(): ApiTokenEntity {
  return Object.assign(new ApiTokenEntity(), {
    id: 'token-1',
    userId: USER.id,
    scopes: 'read,write',
    expiresAt: new Date(NOW + 86_400_000),
  });
}

function userEntity(): UserEntity {
  return Object.assign(new UserEntity(), {
    id: USER.id,
    username: USER.username,
    groups: [],
    disabled: false,
  });
}

export interface AuthenticatorSpec {
  settings: Settings;
  /** What SettingsService tells the authenticator on a change. */
  onSettingsChange: (s: Settings) => void;
  clock: MovableClock;
  users: { peek: jest.Mock; get: jest.Mock };
  revocations: { isRevoked: jest.Mock };
  tokens: { recordUse: jest.Mock };
  strategies: Record<'access' | 'refresh' | 'basic' | 'api-token', ReturnType<typeof fakeStrategy>>;
  sut: AuthenticatorService;
  /** A request from 203.0.113.7 with this Authorization header, or none. */
  request(authorization?: string): StrategyRequest;
  /** The 401 a request gets, or fails the test when it is let in. */
  refusal(authorization: string | undefined, rules: AuthenticationRules): Promise<DomainError>;
}

/**
 * An AuthenticatorService over the four credential kinds with fake strategies (each accepting
 * its credential), built afresh before each test of the describe block that calls this; the
 * fields are replaced each time, so read them in a beforeEach or a test.
 */
export function authenticatorSpec(): AuthenticatorSpec {
  const spec = {
    request: (authorization?: string): StrategyRequest =>
      ({
        headers: authorization === undefined ? {} : { authorization },
        ip: '203.0.113.7',
      }) as StrategyRequest,
    refusal: async (authorization: string | undefined, rules: AuthenticationRules) => {
      const err = await settled(() =>
        spec.sut.authenticate(spec.request(authorization), rules),
      ).then(
        (ok) => ok,
        (e: unknown) => e,
      );
      if (!(err instanceof DomainError))
        throw new Error(`expected a refusal, got ${JSON.stringify(err)}`);
      expect(err.status).toBe(401);
      return err;
    },
  } as AuthenticatorSpec;

  beforeEach(() => {
    const settings = structuredClone(DEFAULT_SETTINGS);
    const clock = new MovableClock(NOW);
    const users = { peek: jest.fn(() => USER), get: jest.fn() };
    const revocations = { isRevoked: jest.fn(() => false) };
    const tokens = { recordUse: jest.fn() };
    const strategies = {
      access: fakeStrategy(() => claims()),
      refresh: fakeStrategy(() => claims()),
      basic: fakeStrategy(() => userEntity()),
      'api-token': fakeStrategy(() => apiToken()),
    };
    const kinds = new CredentialKinds(new StrategyRunner());
    const tokensService = strict<TokensService>(tokens);
    // Registered out of precedence order: the registry orders them.
    kinds.register(
      new BasicKind(strategies.basic as unknown as BasicStrategy),
      new RefreshTokenKind(strategies.refresh as unknown as RefreshTokenStrategy),
      new AccessTokenKind(strategies.access as unknown as AccessTokenStrategy),
      new ApiTokenKind(
        strategies['api-token'] as unknown as ApiTokenStrategy,
        tokensService,
        clock,
      ),
    );
    const settingsService = strict<SettingsService>({
      get: jest.fn(() => settings),
      onChange: jest.fn((listener: (s: Settings) => void) => (spec.onSettingsChange = listener)),
    });
    const sut = new AuthenticatorService(
      kinds,
      strict<UserCache>(users),
      strict<RevocationService>(revocations),
      clock,
      settingsService,
    );
    Object.assign(spec, { settings, clock, users, revocations, tokens, strategies, sut });
  });

  return spec;
}
