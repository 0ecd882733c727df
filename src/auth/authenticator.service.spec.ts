import { Clock } from '../common/clock';
import { JwtError } from '../common/jwt/jws';
import { DomainError, Problems } from '../common/problem/domain-error';
import { CredentialKind } from '../common/principal';
import { DEFAULT_SETTINGS, Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';
import { ApiTokenEntity } from '../tokens/api-token.entity';
import { ApiTokenKind, ApiTokenStrategy } from '../tokens/api-token.strategy';
import { TokensService } from '../tokens/tokens.service';
import { strict } from '../../test/support/strict-mock';
import { AuthenticationRules, AuthenticatorService } from './authenticator.service';
import { CachedUser, UserCache } from './directory/user-cache';
import { UserEntity } from './directory/user.entity';
import { CredentialKinds } from './kinds/credential-kinds';
import { RevocationService } from './sessions/revocation.service';
import { AccessTokenKind, AccessTokenStrategy } from './strategies/access-token.strategy';
import { BasicKind, BasicStrategy } from './strategies/basic.strategy';
import { RefreshTokenKind, RefreshTokenStrategy } from './strategies/refresh-token.strategy';
import { StrategyRequest, StrategyRunner } from './strategies/strategy-runner';
import { WardenClaims } from './warden-tokens.service';

const NOW = 1_800_000_000_000;
const USER: CachedUser = { id: 'u-alice', username: 'alice', groups: ['staff'], disabled: false };

/** The routes the application has: an API call, the renewal, the password exchange. */
const API: AuthenticationRules = { kinds: ['access', 'api-token', 'basic'] };
const REAUTH: AuthenticationRules = { kinds: ['refresh'] };
const LOGIN: AuthenticationRules = { kinds: ['basic'], login: true };

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';
const API_TOKEN = 'wdn_0123456789abcdef';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

/**
 * A passport strategy as the StrategyRunner drives it: `authenticate` on a fresh object whose
 * prototype is this one, reporting through success / error. Records every request it is run on.
 */
function fakeStrategy(verify: (request: StrategyRequest) => unknown) {
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

const claims = (exp = NOW / 1000 + 300): WardenClaims => ({
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

describe(AuthenticatorService.name, () => {
  let settings: Settings;
  let onSettingsChange: (s: Settings) => void;
  let clock: MovableClock;
  let users: { peek: jest.Mock; get: jest.Mock };
  let revocations: { isRevoked: jest.Mock };
  let tokens: { recordUse: jest.Mock };
  let strategies: Record<
    'access' | 'refresh' | 'basic' | 'api-token',
    ReturnType<typeof fakeStrategy>
  >;
  let sut: AuthenticatorService;

  beforeEach(() => {
    settings = structuredClone(DEFAULT_SETTINGS);
    clock = new MovableClock();
    users = { peek: jest.fn(() => USER), get: jest.fn() };
    revocations = { isRevoked: jest.fn(() => false) };
    tokens = { recordUse: jest.fn() };
    strategies = {
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
      onChange: jest.fn((listener: (s: Settings) => void) => (onSettingsChange = listener)),
    });
    sut = new AuthenticatorService(
      kinds,
      strict<UserCache>(users),
      strict<RevocationService>(revocations),
      clock,
      settingsService,
    );
  });

  const request = (authorization?: string): StrategyRequest =>
    ({
      headers: authorization === undefined ? {} : { authorization },
      ip: '203.0.113.7',
    }) as StrategyRequest;

  /** The 401 a request gets, or fails the test when it is let in. */
  async function refusal(authorization: string | undefined, rules: AuthenticationRules) {
    const err = await sut.authenticate(request(authorization), rules).then(
      (ok) => ok,
      (e: unknown) => e,
    );
    if (!(err instanceof DomainError))
      throw new Error(`expected a refusal, got ${JSON.stringify(err)}`);
    expect(err.status).toBe(401);
    return err;
  }

  describe('which kind takes a request', () => {
    type Row = [
      string,
      string | undefined,
      AuthenticationRules,
      (s: Settings) => void,
      CredentialKind,
    ];
    const on = () => undefined;
    const basicOff = (s: Settings) => (s.basicAuth.enabled = false);
    const rows: Row[] = [
      ['a Bearer JWT on an API route', `Bearer ${JWT}`, API, on, 'access'],
      ['a bare JWT on an API route', JWT, API, on, 'access'],
      ['a Bearer wdn_ token', `Bearer ${API_TOKEN}`, API, on, 'api-token'],
      ['an APIToken wdn_ token', `APIToken ${API_TOKEN}`, API, on, 'api-token'],
      ['a wdn_ token as the Basic password', basic('alice', API_TOKEN), API, on, 'api-token'],
      [
        'a wdn_ token as the Basic password, basicAuth off',
        basic('alice', API_TOKEN),
        API,
        basicOff,
        'api-token',
      ],
      ['a password with basicAuth on', basic('alice', 'pw'), API, on, 'basic'],
      [
        'a password on the login route, basicAuth off',
        basic('alice', 'pw'),
        LOGIN,
        basicOff,
        'basic',
      ],
      ['a Bearer JWT on the renewal route', `Bearer ${JWT}`, REAUTH, on, 'refresh'],
      [
        'a Bearer JWT where access and refresh are both taken',
        `Bearer ${JWT}`,
        { kinds: ['refresh', 'access'] },
        on,
        'access',
      ],
    ];

    it.each(rows.map((r) => [`${r[0]} → ${r[4]}`, ...r.slice(1)] as Row))(
      '%s',
      async (_name, authorization, rules, change, kind) => {
        change(settings);
        const { principal } = await sut.authenticate(request(authorization), rules);
        expect(principal.authMethod).toBe(kind);
        expect(principal.id).toBe(USER.id);
        const ran = (Object.keys(strategies) as (keyof typeof strategies)[]).filter(
          (k) => strategies[k].seen.length > 0,
        );
        expect(ran).toEqual([kind]);
      },
    );
  });

  describe('the 401 a request gets when no kind takes it', () => {
    type Row = [string, string | undefined, AuthenticationRules, (s: Settings) => void, string];
    const on = () => undefined;
    const rows: Row[] = [
      ['no credentials', undefined, API, on, 'authentication_required'],
      ['a scheme with nothing after it', 'Bearer', API, on, 'invalid_credentials'],
      ['Basic that is not base64', 'Basic %%%', API, on, 'invalid_credentials'],
      ['an unknown scheme', 'Digest abc', API, on, 'credential_not_accepted'],
      [
        'a password with basicAuth off',
        basic('alice', 'pw'),
        API,
        (s) => (s.basicAuth.enabled = false),
        'basic_auth_disabled',
      ],
      [
        'a Bearer wdn_ token with apiTokens off',
        `Bearer ${API_TOKEN}`,
        API,
        (s) => (s.apiTokens.enabled = false),
        'api_tokens_disabled',
      ],
      [
        'a wdn_ Basic password with apiTokens off',
        basic('alice', API_TOKEN),
        API,
        (s) => (s.apiTokens.enabled = false),
        'api_tokens_disabled',
      ],
      [
        'a wdn_ Basic password with both off',
        basic('alice', API_TOKEN),
        API,
        (s) => {
          s.apiTokens.enabled = false;
          s.basicAuth.enabled = false;
        },
        'api_tokens_disabled',
      ],
      [
        'a password on the renewal route',
        basic('alice', 'pw'),
        REAUTH,
        on,
        'credential_not_accepted',
      ],
      ['a JWT on the login route', `Bearer ${JWT}`, LOGIN, on, 'credential_not_accepted'],
      [
        'a wdn_ token on the renewal route',
        `Bearer ${API_TOKEN}`,
        REAUTH,
        on,
        'credential_not_accepted',
      ],
    ];

    it.each(rows.map((r) => [`${r[0]} → ${r[4]}`, ...r.slice(1)] as Row))(
      '%s',
      async (_name, authorization, rules, change, code) => {
        change(settings);
        const err = await refusal(authorization, rules);
        expect(err.code).toBe(code);
        for (const s of Object.values(strategies)) expect(s.seen).toHaveLength(0);
      },
    );

    it("names the route's challenges, without an error when nothing was presented", async () => {
      const err = await refusal(undefined, API);
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden"',
        'Basic realm="warden", charset="UTF-8"',
      ]);
    });

    it('names invalid_token on a credential of a kind the route does not take', async () => {
      const err = await refusal(`Bearer ${JWT}`, LOGIN);
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Basic realm="warden", charset="UTF-8"',
      ]);
      const bearer = await refusal(basic('alice', 'pw'), REAUTH);
      expect(bearer.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden", error="invalid_token", error_description="Credential kind not accepted here"',
      ]);
    });
  });

  describe('what a strategy refuses', () => {
    it('answers an expired JWT with token_expired, naming the kind', async () => {
      strategies.access.authenticate = fakeStrategy(() => {
        throw new JwtError('expired', 'Token has expired');
      }).authenticate;
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.code).toBe('token_expired');
      expect(err.detail).toBe('The access token has expired');
    });

    it("answers any other JWT failure with invalid_token and the failure's message", async () => {
      strategies.refresh.authenticate = fakeStrategy(() => {
        throw new JwtError('bad_signature', 'Signature does not verify');
      }).authenticate;
      const err = await refusal(`Bearer ${JWT}`, REAUTH);
      expect(err.code).toBe('invalid_token');
      expect(err.detail).toBe('Signature does not verify');
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden", error="invalid_token", error_description="Signature does not verify"',
      ]);
    });

    it("re-issues a strategy's own 401 with the route's challenges, keeping its code", async () => {
      strategies['api-token'].authenticate = fakeStrategy(() => {
        throw Problems.unauthorized(
          'The API token is not valid',
          [{ scheme: 'Basic' }],
          'invalid_token',
        );
      }).authenticate;
      const err = await refusal(`Bearer ${API_TOKEN}`, { kinds: ['api-token'] });
      expect(err.code).toBe('invalid_token');
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden", error="invalid_token", error_description="The API token is not valid"',
      ]);
    });

    it('lets any other error through as it is', async () => {
      const outage = new Error('database unreachable');
      strategies.basic.authenticate = fakeStrategy(() => {
        throw outage;
      }).authenticate;
      await expect(sut.authenticate(request(basic('alice', 'pw')), API)).rejects.toBe(outage);
    });

    it('tells the strategy of a login route that the credential is exchanged for tokens', async () => {
      await sut.authenticate(request(basic('alice', 'pw')), LOGIN);
      expect(strategies.basic.seen[0].exchangesForTokens).toBe(true);
      await sut.authenticate(request(basic('alice', 'pw')), API);
      expect(strategies.basic.seen[1].exchangesForTokens).toBeUndefined();
    });
  });

  describe('remembered tokens', () => {
    it('answers a repeated access token without running its strategy again', async () => {
      const first = await sut.authenticate(request(`Bearer ${JWT}`), API);
      const second = await sut.authenticate(request(JWT), API);
      expect(strategies.access.seen).toHaveLength(1);
      expect(second.principal).toEqual(first.principal);
      expect(second.principal).toMatchObject({ credentialId: 'session-1', authMethod: 'access' });
    });

    it('verifies the token afresh once it has expired', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      clock.at = NOW + 300_000;
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(strategies.access.seen).toHaveLength(2);
    });

    it('checks revocation on every use', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      revocations.isRevoked.mockReturnValue(true);
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.code).toBe('invalid_token');
      expect(err.detail).toBe('The session has ended');
      expect(revocations.isRevoked).toHaveBeenLastCalledWith('session-1');
    });

    it('names a revoked API token as such', async () => {
      await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      revocations.isRevoked.mockReturnValue(true);
      const err = await refusal(`Bearer ${API_TOKEN}`, API);
      expect(err.detail).toBe('The API token has been revoked');
    });

    it('refuses a remembered token once its user is disabled', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      users.peek.mockReturnValue({ ...USER, disabled: true });
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.detail).toBe('The user can no longer sign in');
    });

    it('loads a user the cache does not hold', async () => {
      users.peek.mockReturnValue(undefined);
      users.get.mockResolvedValue({ ...USER, groups: ['loaded'] });
      const { principal } = await sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(users.get).toHaveBeenCalledWith(USER.id);
      expect(principal.groups).toEqual(['loaded']);
    });

    it('refuses a token whose user no longer exists', async () => {
      users.peek.mockReturnValue(null);
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.detail).toBe('The user can no longer sign in');
    });

    it('forgets every remembered token when the settings change', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      onSettingsChange(settings);
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(strategies.access.seen).toHaveLength(2);
    });

    it("does not answer a route that does not take the remembered token's kind", async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      const { principal, refreshClaims } = await sut.authenticate(request(`Bearer ${JWT}`), REAUTH);
      expect(principal.authMethod).toBe('refresh');
      expect(refreshClaims).toEqual(claims());
      expect(strategies.refresh.seen).toHaveLength(1);
    });

    it('never remembers a refresh token or a password', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), REAUTH);
      await sut.authenticate(request(`Bearer ${JWT}`), REAUTH);
      await sut.authenticate(request(basic('alice', 'pw')), API);
      await sut.authenticate(request(basic('alice', 'pw')), API);
      expect(strategies.refresh.seen).toHaveLength(2);
      expect(strategies.basic.seen).toHaveLength(2);
    });

    it('stops answering an API token when apiTokens is switched off', async () => {
      await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      settings.apiTokens.enabled = false;
      const err = await refusal(`Bearer ${API_TOKEN}`, API);
      expect(err.code).toBe('api_tokens_disabled');
    });
  });

  describe('on every use of an API token', () => {
    it('records the use, remembered or not', async () => {
      await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      await sut.authenticate(request(`APIToken ${API_TOKEN}`), API);
      expect(strategies['api-token'].seen).toHaveLength(1);
      expect(tokens.recordUse.mock.calls).toEqual([
        ['token-1', '203.0.113.7'],
        ['token-1', '203.0.113.7'],
      ]);
    });

    it('refuses it as the Basic password of another user, even when remembered', async () => {
      await sut.authenticate(request(basic('ALICE', API_TOKEN)), API);
      const err = await refusal(basic('bob', API_TOKEN), API);
      expect(err.code).toBe('invalid_token');
      expect(err.detail).toBe('The API token does not belong to this user');
      expect(strategies['api-token'].seen).toHaveLength(1);
    });

    it('carries the scopes the token was created with', async () => {
      const { principal } = await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      expect(principal.scopes).toEqual(['read', 'write']);
      expect(principal.credentialId).toBe('token-1');
    });
  });
});
