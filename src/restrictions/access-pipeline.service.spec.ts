import { AuditSink } from '../audit/audit.port';
import { AuthenticatorService, AuthRequest } from '../auth/authenticator.service';
import { AuthPolicy } from '../common/decorators/auth-policy.decorator';
import { DomainError, Problems } from '../common/problem/domain-error';
import type { ProblemCodeFor } from '../common/problem/problem-codes';
import { ADMIN_GROUP, Principal } from '../common/principal';
import { MetricsService } from '../metrics/metrics.service';
import { strict } from '../../test/support/strict-mock';
import {
  AccessPipeline,
  ANONYMOUS,
  hasScope,
  JudgeInput,
  passwordOf,
  rateKeyOf,
} from './access-pipeline.service';
import { AccessAudit } from './access-audit';
import { NativeTokenRule } from './native-token.rule';
import { RateLimiterService, RateLimitState } from './rate-limit/rate-limiter.service';
import { RestrictionsService } from './restrictions.service';
import { DEFAULT_SETTINGS, Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';

const IP = '203.0.113.7';
const OTHER_NETWORK = '10.0.0.0/8';
const STATE: RateLimitState = { limit: 100, remaining: 99, reset: 60, windowSeconds: 60 };
const PASSWORD = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
const API_TOKEN_AS_PASSWORD = `Basic ${Buffer.from('alice:wdn_abc').toString('base64')}`;

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    id: 'u-alice',
    username: 'alice',
    groups: ['staff'],
    authMethod: 'access',
    credentialId: 'session-1',
    scopes: ['read', 'write'],
    ...overrides,
  };
}

const refused = (code: ProblemCodeFor<401>) =>
  Problems.unauthorized('refused', [{ scheme: 'Bearer' }], code);

/** The error a promise rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  if (!('err' in outcome)) throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`);
  if (!(outcome.err instanceof DomainError)) throw outcome.err;
  return outcome.err;
}

describe(AccessPipeline.name, () => {
  let settings: Settings;
  let authenticator: { authenticate: jest.Mock };
  let limiter: {
    consume: jest.Mock;
    countRefused: jest.Mock;
    assertPasswordChecksAllowed: jest.Mock;
    beginLogin: jest.Mock;
  };
  let loginEnded: jest.Mock;
  let native: { passes: jest.Mock };
  let sut: AccessPipeline;

  /** Builds the pipeline on the settings as the test left them (the rules compile once). */
  function build(change: (s: Settings) => void = () => undefined): AccessPipeline {
    change(settings);
    const settingsService = strict<SettingsService>({
      get: jest.fn(() => settings),
      onChange: jest.fn(),
    });
    return new AccessPipeline(
      strict<AuthenticatorService>(authenticator),
      new RestrictionsService(settingsService),
      strict<RateLimiterService>(limiter),
      settingsService,
      strict<NativeTokenRule>(native),
    );
  }

  beforeEach(() => {
    settings = structuredClone(DEFAULT_SETTINGS);
    authenticator = { authenticate: jest.fn(async () => ({ principal: principal() })) };
    loginEnded = jest.fn();
    limiter = {
      consume: jest.fn(() => STATE),
      countRefused: jest.fn(async () => undefined),
      assertPasswordChecksAllowed: jest.fn(),
      beginLogin: jest.fn(async () => loginEnded),
    };
    native = { passes: jest.fn(() => false) };
    sut = build();
  });

  const input = (overrides: Partial<JudgeInput> & { authorization?: string } = {}): JudgeInput => {
    const { authorization, ...rest } = overrides;
    return {
      method: 'GET',
      path: '/rest/api/2/issue/1',
      request: { headers: authorization ? { authorization } : {}, ip: IP } as AuthRequest,
      policy: { api: true },
      ...rest,
    };
  };

  describe('which refusal wins when several apply', () => {
    it('lets everything through when restApiAuthentication is off, before the allow-list', async () => {
      sut = build((s) => {
        s.restApiAuthentication.enabled = false;
        s.ip.allow = [OTHER_NETWORK];
      });
      const decision = await sut.judge(input());
      expect(decision).toEqual({
        principal: ANONYMOUS,
        rateLimit: STATE,
        openBecause: 'rest_api_authentication_disabled',
      });
      expect(limiter.consume).toHaveBeenCalledWith(`ip:${IP}`);
      expect(authenticator.authenticate).not.toHaveBeenCalled();
    });

    it('judges a non-API route whatever restApiAuthentication says', async () => {
      sut = build((s) => (s.restApiAuthentication.enabled = false));
      const decision = await sut.judge(input({ policy: {} }));
      expect(decision.principal.authMethod).toBe('access');
      expect(authenticator.authenticate).toHaveBeenCalledTimes(1);
    });

    it('lets a bypass path through from any address, counting nothing', async () => {
      sut = build((s) => {
        s.bypass.paths = ['/rest/api/2/**'];
        s.ip.allow = [OTHER_NETWORK];
      });
      const decision = await sut.judge(input());
      expect(decision).toEqual({ principal: ANONYMOUS, rateLimit: null, openBecause: 'bypass' });
      expect(limiter.consume).not.toHaveBeenCalled();
    });

    it('applies the allow-list to a public path', async () => {
      sut = build((s) => {
        s.publicApis.paths = ['/rest/api/2/**'];
        s.ip.allow = [OTHER_NETWORK];
      });
      const err = await rejection(sut.judge(input()));
      expect(err.code).toBe('ip_not_allowed');
      expect(limiter.consume).not.toHaveBeenCalled();
    });

    it("opens a public path on the address's budget", async () => {
      sut = build((s) => (s.publicApis.paths = ['/rest/api/2/**']));
      const decision = await sut.judge(input({ authorization: 'Bearer x.y.z' }));
      expect(decision).toEqual({ principal: ANONYMOUS, rateLimit: STATE, openBecause: 'public' });
      expect(limiter.consume).toHaveBeenCalledWith(`ip:${IP}`);
      expect(authenticator.authenticate).not.toHaveBeenCalled();
    });

    it('takes the least open reading of the path', async () => {
      sut = build((s) => (s.publicApis.paths = ['/rest/api/2/**']));
      const decision = await sut.judge(input({ otherPaths: ['/rest/api/3/issue/1'] }));
      expect(decision.openBecause).toBeUndefined();
      expect(authenticator.authenticate).toHaveBeenCalledTimes(1);
    });

    it('refuses an address outside the allow-list before looking at any credential', async () => {
      sut = build((s) => (s.ip.allow = [OTHER_NETWORK]));
      limiter.assertPasswordChecksAllowed.mockImplementation(() => {
        throw new DomainError(429, 'rate_limited', 'Too Many Requests', 'spent');
      });
      for (const policy of [{ api: true }, {}] as AuthPolicy[]) {
        const err = await rejection(sut.judge(input({ policy, authorization: PASSWORD })));
        expect(err.code).toBe('ip_not_allowed');
      }
      expect(limiter.assertPasswordChecksAllowed).not.toHaveBeenCalled();
      expect(limiter.beginLogin).not.toHaveBeenCalled();
      expect(authenticator.authenticate).not.toHaveBeenCalled();
    });

    it('refuses a password before checking it while the address spends its budget on refusals', async () => {
      const spent = new DomainError(429, 'rate_limited', 'Too Many Requests', 'spent');
      limiter.assertPasswordChecksAllowed.mockImplementation(() => {
        throw spent;
      });
      await expect(sut.judge(input({ authorization: PASSWORD }))).rejects.toBe(spent);
      expect(limiter.assertPasswordChecksAllowed).toHaveBeenCalledWith(IP);
      expect(limiter.beginLogin).not.toHaveBeenCalled();
      expect(authenticator.authenticate).not.toHaveBeenCalled();
    });

    it('refuses a password before checking it once its login window is spent', async () => {
      const spent = new DomainError(429, 'login_rate_limited', 'Too Many Requests', 'spent');
      limiter.beginLogin.mockRejectedValue(spent);
      await expect(sut.judge(input({ authorization: PASSWORD }))).rejects.toBe(spent);
      expect(limiter.beginLogin).toHaveBeenCalledWith('alice', IP);
      expect(authenticator.authenticate).not.toHaveBeenCalled();
    });

    it('starts no login check for a bearer token or an API token sent as the password', async () => {
      await sut.judge(input({ authorization: 'Bearer x.y.z' }));
      await sut.judge(input({ authorization: API_TOKEN_AS_PASSWORD }));
      expect(limiter.assertPasswordChecksAllowed).not.toHaveBeenCalled();
      expect(limiter.beginLogin).not.toHaveBeenCalled();
    });

    type After = [string, Partial<Principal>, AuthPolicy, string, (s: Settings) => void];
    const rows: After[] = [
      [
        'admin_required over scope_insufficient',
        { scopes: ['read'] },
        { api: true, admin: true },
        'admin_required',
        () => undefined,
      ],
      [
        'scope_insufficient over the group rules',
        { scopes: ['read'], groups: ['readers'] },
        { api: true },
        'scope_insufficient',
        (s) => (s.groups.apiAccess = ['api-users']),
      ],
      [
        'an admin route needs the admin scope, not write',
        { groups: [ADMIN_GROUP], scopes: ['read', 'write'] },
        { api: true, admin: true },
        'scope_insufficient',
        () => undefined,
      ],
      [
        'not_in_api_access_group over read_only_group',
        { groups: ['readers'] },
        { api: true },
        'not_in_api_access_group',
        (s) => {
          s.groups.apiAccess = ['api-users'];
          s.groups.readOnly = ['readers'];
        },
      ],
      [
        'read_only_group on a write',
        { groups: ['api-users', 'readers'] },
        { api: true },
        'read_only_group',
        (s) => {
          s.groups.apiAccess = ['api-users'];
          s.groups.readOnly = ['readers'];
        },
      ],
    ];

    it.each(rows)('%s', async (_name, who, policy, code, change) => {
      sut = build(change);
      authenticator.authenticate.mockResolvedValue({ principal: principal(who) });
      const err = await rejection(sut.judge(input({ method: 'POST', policy })));
      expect(err.status).toBe(403);
      expect(err.code).toBe(code);
      // A rule that refused after sign-in spends no budget.
      expect(limiter.consume).not.toHaveBeenCalled();
      expect(limiter.countRefused).not.toHaveBeenCalled();
    });

    it('names the refused caller in the audit of a refusal after sign-in', async () => {
      sut = build((s) => (s.groups.apiAccess = ['api-users']));
      const err = await rejection(sut.judge(input()));
      const audit = { record: jest.fn() };
      const metrics = { decision: jest.fn() };
      new AccessAudit(strict<AuditSink>(audit), strict<MetricsService>(metrics)).denied(
        'access',
        { ip: IP, method: 'GET', path: '/x', headers: {}, requestId: 'r1' },
        err,
      );
      expect(audit.record).toHaveBeenCalledWith(
        expect.objectContaining({
          actor: 'alice',
          authMethod: 'access',
          credentialId: 'session-1',
        }),
      );
    });

    it('leaves group rules to API routes, and never applies them to admins or Connect tenants', async () => {
      sut = build((s) => (s.groups.apiAccess = ['api-users']));
      await expect(sut.judge(input({ policy: {} }))).resolves.toMatchObject({ rateLimit: STATE });
      for (const who of [{ groups: [ADMIN_GROUP] }, { authMethod: 'connect' as const }]) {
        authenticator.authenticate.mockResolvedValue({ principal: principal(who) });
        await expect(sut.judge(input())).resolves.toMatchObject({ rateLimit: STATE });
      }
    });
  });

  describe('what spends the rate-limit budget', () => {
    it("counts a let-in request against its credential's budget", async () => {
      authenticator.authenticate.mockResolvedValue({
        principal: principal(),
        refreshClaims: { sid: 'session-1' },
      });
      const decision = await sut.judge(input());
      expect(decision).toEqual({
        principal: principal(),
        rateLimit: STATE,
        refreshClaims: { sid: 'session-1' },
      });
      expect(limiter.consume).toHaveBeenCalledWith('access:session-1');
    });

    it('waits for a count held in shared storage', async () => {
      limiter.consume.mockResolvedValue(STATE);
      await expect(sut.judge(input())).resolves.toMatchObject({ rateLimit: STATE });
    });

    it('refuses with the 429 once the budget is spent', async () => {
      const spent = new DomainError(429, 'rate_limited', 'Too Many Requests', 'spent');
      limiter.consume.mockImplementation(() => {
        throw spent;
      });
      await expect(sut.judge(input())).rejects.toBe(spent);
    });

    it.each<ProblemCodeFor<401>>([
      'invalid_token',
      'invalid_credentials',
      'token_expired',
      'credential_not_accepted',
    ])("counts credentials refused with %s against the address's budget", async (code) => {
      const err = refused(code);
      authenticator.authenticate.mockRejectedValue(err);
      await expect(sut.judge(input({ authorization: 'Bearer x.y.z' }))).rejects.toBe(err);
      expect(limiter.countRefused).toHaveBeenCalledWith(IP);
      expect(limiter.consume).not.toHaveBeenCalled();
    });

    it('does not count a request that presented no credentials', async () => {
      const err = refused('authentication_required');
      authenticator.authenticate.mockRejectedValue(err);
      await expect(sut.judge(input())).rejects.toBe(err);
      expect(limiter.countRefused).not.toHaveBeenCalled();
    });

    it('does not count a failure that is not a refusal', async () => {
      const outage = Problems.unavailable('The directory cannot be reached');
      authenticator.authenticate.mockRejectedValue(outage);
      await expect(sut.judge(input({ authorization: PASSWORD }))).rejects.toBe(outage);
      expect(limiter.countRefused).not.toHaveBeenCalled();
    });

    it("answers the 429 instead of the 401 once the address's budget is spent", async () => {
      authenticator.authenticate.mockRejectedValue(refused('invalid_token'));
      const spent = new DomainError(429, 'rate_limited', 'Too Many Requests', 'spent');
      limiter.countRefused.mockRejectedValue(spent);
      await expect(sut.judge(input({ authorization: 'Bearer x.y.z' }))).rejects.toBe(spent);
    });
  });

  describe('the login check a password starts', () => {
    it('ends as a success when the password is accepted', async () => {
      await sut.judge(input({ authorization: PASSWORD }));
      expect(loginEnded.mock.calls).toEqual([[false]]);
    });

    it('ends as a failure when the password is wrong', async () => {
      authenticator.authenticate.mockRejectedValue(refused('invalid_credentials'));
      await rejection(sut.judge(input({ authorization: PASSWORD })));
      expect(loginEnded.mock.calls).toEqual([[true]]);
    });

    it('is not a failure when the password was never judged', async () => {
      authenticator.authenticate.mockRejectedValue(refused('basic_auth_disabled'));
      await rejection(sut.judge(input({ authorization: PASSWORD })));
      expect(loginEnded.mock.calls).toEqual([[false]]);
    });

    it('ends before a refusal by a rule after sign-in, as a success', async () => {
      sut = build((s) => (s.groups.apiAccess = ['api-users']));
      await rejection(sut.judge(input({ authorization: PASSWORD })));
      expect(loginEnded.mock.calls).toEqual([[false]]);
    });
  });

  describe("the upstream's own tokens at the decision endpoint", () => {
    it('opens a token every strategy refused and the native rule passes, on the address budget', async () => {
      authenticator.authenticate.mockRejectedValue(refused('invalid_token'));
      native.passes.mockReturnValue(true);
      const decision = await sut.judge(
        input({ authorization: 'Bearer native', allowNative: true }),
      );
      expect(decision).toEqual({
        principal: ANONYMOUS,
        rateLimit: STATE,
        openBecause: 'native_token',
      });
      expect(native.passes).toHaveBeenCalledWith('Bearer native');
      expect(limiter.consume).toHaveBeenCalledWith(`ip:${IP}`);
      expect(limiter.countRefused).not.toHaveBeenCalled();
    });

    it('asks nothing of the native rule on a protected route', async () => {
      const err = refused('invalid_token');
      authenticator.authenticate.mockRejectedValue(err);
      native.passes.mockReturnValue(true);
      await expect(sut.judge(input({ authorization: 'Bearer native' }))).rejects.toBe(err);
      expect(native.passes).not.toHaveBeenCalled();
    });

    it('refuses, and counts, a token the native rule does not pass', async () => {
      const err = refused('invalid_token');
      authenticator.authenticate.mockRejectedValue(err);
      await expect(
        sut.judge(input({ authorization: 'Bearer forged', allowNative: true })),
      ).rejects.toBe(err);
      expect(limiter.countRefused).toHaveBeenCalledWith(IP);
    });
  });

  it('hands the route policy to the authenticator, with the default kinds', async () => {
    await sut.judge(input({ policy: { api: true, login: true, connectContext: true } }));
    await sut.judge(input({ policy: { kinds: ['refresh'] } }));
    expect(authenticator.authenticate.mock.calls.map(([, rules]) => rules)).toEqual([
      { kinds: ['access', 'api-token', 'basic'], login: true, connectContext: true },
      { kinds: ['refresh'], login: undefined, connectContext: undefined },
    ]);
  });

  it('checks the address alone for routes that judge their own credentials', () => {
    sut = build((s) => (s.ip.allow = ['203.0.113.0/24']));
    expect(() => sut.checkAddress(IP)).not.toThrow();
    expect(() => sut.checkAddress('198.51.100.1')).toThrow(
      expect.objectContaining({ code: 'ip_not_allowed' }),
    );
  });
});

describe(rateKeyOf.name, () => {
  it.each([
    ['access', 'access:cred'],
    ['api-token', 'api-token:cred'],
    ['connect', 'connect:cred'],
    ['external', 'external:user'],
    ['session', 'session:user'],
  ] as const)('spends a %s caller the budget %s', (authMethod, key) => {
    expect(rateKeyOf(principal({ authMethod, id: 'user', credentialId: 'cred' }))).toBe(key);
  });
});

describe(passwordOf.name, () => {
  it.each([
    [PASSWORD, { username: 'alice' }],
    [`basic ${Buffer.from('bob:pw').toString('base64')}`, { username: 'bob' }],
    [API_TOKEN_AS_PASSWORD, null],
    ['Bearer x.y.z', null],
    ['Basic !!!', null],
    [undefined, null],
    [[PASSWORD, PASSWORD], null],
  ])('reads %p as %p', (header, expected) => {
    const found = passwordOf(header);
    if (expected === null) expect(found).toBeNull();
    else expect(found).toMatchObject(expected);
  });
});

describe(hasScope.name, () => {
  it.each([
    [['read'], 'read', true],
    [['read'], 'write', false],
    [['write'], 'read', true],
    [['write'], 'admin', false],
    [['read', 'write'], 'admin', false],
    [['admin'], 'read', false],
    [['admin'], 'admin', true],
  ] as const)('%p covers %s: %p', (scopes, needed, expected) => {
    expect(hasScope(scopes, needed)).toBe(expected);
  });
});
