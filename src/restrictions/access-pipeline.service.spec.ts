import { DomainError, Problems } from '../common/problem/domain-error';
import type { ProblemCodeFor } from '../common/problem/problem-codes';
import {
  AccessPipeline,
  ANONYMOUS,
  hasScope,
  passwordOf,
  rateKeyOf,
} from './access-pipeline.service';
import {
  accessPipelineSpec,
  API_TOKEN_AS_PASSWORD,
  IP,
  PASSWORD,
  refused,
  rejection,
  STATE,
} from '../../test/support/access-pipeline';
import { settled, thrownBy } from '../../test/support/maybe-promise';
import { principal } from '../../test/support/principal';

describe(AccessPipeline.name, () => {
  const spec = accessPipelineSpec();
  const { build, input } = spec;
  let { authenticator, limiter, loginEnded, native, sut } = spec;
  beforeEach(() => ({ authenticator, limiter, loginEnded, native, sut } = spec));

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
      await expect(settled(() => sut.judge(input()))).resolves.toMatchObject({ rateLimit: STATE });
    });

    it('refuses with the 429 once the budget is spent', async () => {
      const spent = new DomainError(429, 'rate_limited', 'Too Many Requests', 'spent');
      limiter.consume.mockImplementation(() => {
        throw spent;
      });
      await expect(settled(() => sut.judge(input()))).rejects.toBe(spent);
    });

    it.each<ProblemCodeFor<401>>([
      'invalid_token',
      'invalid_credentials',
      'token_expired',
      'credential_not_accepted',
    ])("counts credentials refused with %s against the address's budget", async (code) => {
      const err = refused(code);
      authenticator.authenticate.mockRejectedValue(err);
      await expect(settled(() => sut.judge(input({ authorization: 'Bearer x.y.z' })))).rejects.toBe(
        err,
      );
      expect(limiter.countRefused).toHaveBeenCalledWith(IP);
      expect(limiter.consume).not.toHaveBeenCalled();
    });

    it('does not count a request that presented no credentials', async () => {
      const err = refused('authentication_required');
      authenticator.authenticate.mockRejectedValue(err);
      await expect(settled(() => sut.judge(input()))).rejects.toBe(err);
      expect(limiter.countRefused).not.toHaveBeenCalled();
    });

    it('does not count a failure that is not a refusal', async () => {
      const outage = Problems.unavailable('The directory cannot be reached');
      authenticator.authenticate.mockRejectedValue(outage);
      await expect(settled(() => sut.judge(input({ authorization: PASSWORD })))).rejects.toBe(
        outage,
      );
      expect(limiter.countRefused).not.toHaveBeenCalled();
    });

    it("answers the 429 instead of the 401 once the address's budget is spent", async () => {
      authenticator.authenticate.mockRejectedValue(refused('invalid_token'));
      const spent = new DomainError(429, 'rate_limited', 'Too Many Requests', 'spent');
      limiter.countRefused.mockRejectedValue(spent);
      await expect(settled(() => sut.judge(input({ authorization: 'Bearer x.y.z' })))).rejects.toBe(
        spent,
      );
    });
  });

  describe('answered from memory', () => {
    const remembered = () =>
      authenticator.authenticate.mockImplementation(() => ({ principal: principal() }));

    it('judges a remembered token with in-memory counters without a promise', async () => {
      remembered();
      const decision = sut.judge(input({ authorization: 'Bearer x.y.z' }));
      expect(decision).not.toBeInstanceOf(Promise);
      authenticator.authenticate.mockResolvedValue({ principal: principal() });
      const unseen = sut.judge(input({ authorization: 'Bearer x.y.z' }));
      expect(unseen).toBeInstanceOf(Promise);
      expect(await unseen).toEqual(decision);
    });

    it('waits, with the same outcome, for counters held in Redis', async () => {
      remembered();
      const atOnce = sut.judge(input());
      limiter.consume.mockResolvedValue(STATE);
      const counted = sut.judge(input());
      expect(counted).toBeInstanceOf(Promise);
      expect(await counted).toEqual(atOnce);
    });

    it('throws the refusal it judged at once, the same one a promise rejects with', async () => {
      const readOnly = () => ({ principal: principal({ scopes: ['read'] }) });
      authenticator.authenticate.mockImplementation(readOnly);
      const thrown = thrownBy(() => sut.judge(input({ method: 'POST' })));
      authenticator.authenticate.mockImplementation(async () => readOnly());
      const rejected = sut.judge(input({ method: 'POST' }));
      expect(rejected).toBeInstanceOf(Promise);
      const err = await rejection(() => rejected);
      expect(thrown).toBeInstanceOf(DomainError);
      expect(thrown).toMatchObject({ status: 403, code: 'scope_insufficient', detail: err.detail });
      expect(err.code).toBe('scope_insufficient');
    });

    it("throws a spent budget's 429 at once, and rejects with it from Redis", async () => {
      remembered();
      const spent = new DomainError(429, 'rate_limited', 'Too Many Requests', 'spent');
      limiter.consume.mockImplementation(() => {
        throw spent;
      });
      expect(() => sut.judge(input())).toThrow(spent);
      limiter.consume.mockRejectedValue(spent);
      await expect(sut.judge(input())).rejects.toBe(spent);
    });
  });

  describe('the login check a password starts', () => {
    it('ends as a success when the password is accepted', async () => {
      await sut.judge(input({ authorization: PASSWORD }));
      expect(loginEnded.mock.calls).toEqual([[false]]);
    });

    it('ends as a failure when the password is wrong', async () => {
      authenticator.authenticate.mockRejectedValue(refused('invalid_credentials'));
      await rejection(() => sut.judge(input({ authorization: PASSWORD })));
      expect(loginEnded.mock.calls).toEqual([[true]]);
    });

    it('is not a failure when the password was never judged', async () => {
      authenticator.authenticate.mockRejectedValue(refused('basic_auth_disabled'));
      await rejection(() => sut.judge(input({ authorization: PASSWORD })));
      expect(loginEnded.mock.calls).toEqual([[false]]);
    });

    it('ends before a refusal by a rule after sign-in, as a success', async () => {
      sut = build((s) => (s.groups.apiAccess = ['api-users']));
      await rejection(() => sut.judge(input({ authorization: PASSWORD })));
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
      await expect(
        settled(() => sut.judge(input({ authorization: 'Bearer native' }))),
      ).rejects.toBe(err);
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
