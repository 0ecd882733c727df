import { AuthenticatorService } from '../auth/authenticator.service';
import { ADMIN_GROUP, Principal } from '../common/principal';
import { DomainError, Problems } from '../common/problem/domain-error';
import { DECISION_POLICY } from './decision.service';
import { DecisionExplainer, Explanation } from './decision-explainer.service';
import { NativeTokenRule } from './native-token.rule';
import { RateLimiterService } from './rate-limit/rate-limiter.service';
import { RestrictionsService } from './restrictions.service';
import { DEFAULT_SETTINGS, Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';

const alice: Principal = {
  id: 'u1',
  username: 'alice',
  groups: ['staff'],
  authMethod: 'api-token',
  credentialId: 'tok-1',
  scopes: ['read', 'write'],
};
const TOKEN = 'wdn_secretsecretsecret';

describe(DecisionExplainer.name, () => {
  let settings: Settings;
  let authenticate: jest.Mock;
  let peek: jest.Mock;
  let beginLogin: jest.Mock;
  let nativePasses: jest.Mock;
  let sut: DecisionExplainer;

  function build(overrides: Partial<Settings> = {}): void {
    settings = structuredClone({ ...DEFAULT_SETTINGS, ...overrides });
    const settingsService = {
      get: () => settings,
      onChange: () => undefined,
    } as unknown as SettingsService;
    authenticate = jest.fn().mockResolvedValue({ principal: alice });
    peek = jest.fn().mockResolvedValue({
      limit: 600,
      remaining: 598,
      reset: 40,
      windowSeconds: 60,
      wouldRefuse: false,
    });
    beginLogin = jest.fn();
    nativePasses = jest.fn().mockReturnValue(false);
    const limiter = {
      peek,
      beginLogin,
      assertPasswordChecksAllowed: jest.fn(),
      consume: jest.fn(() => {
        throw new Error('a dry run must not spend the budget');
      }),
      countRefused: jest.fn(() => {
        throw new Error('a dry run must not spend the budget');
      }),
    } as unknown as RateLimiterService;
    sut = new DecisionExplainer(
      { authenticate } as unknown as AuthenticatorService,
      new RestrictionsService(settingsService),
      limiter,
      settingsService,
      { passes: nativePasses } as unknown as NativeTokenRule,
    );
  }

  beforeEach(() => build());

  const decided = (e: Explanation) => e.steps.filter((s) => s.decided);
  const stepNames = (e: Explanation) => e.steps.map((s) => s.step);

  it('allows a valid credential and lists every step in pipeline order, the rate limit deciding', async () => {
    const e = await sut.explain(
      { method: 'get', uri: '/rest/api/2/issue/X-1?expand=a', authorization: `Bearer ${TOKEN}` },
      '10.0.0.9',
    );
    expect(e).toMatchObject({
      decision: 'allow',
      status: 200,
      code: null,
      decidedBy: 'rate-limit',
    });
    expect(e.method).toBe('GET');
    expect(e.path).toBe('/rest/api/2/issue/X-1');
    expect(e.clientIp).toBe('10.0.0.9');
    expect(stepNames(e)).toEqual([
      'client-address',
      'route-policy',
      'allow-list',
      'credential',
      'scope',
      'groups',
      'rate-limit',
    ]);
    expect(decided(e)).toHaveLength(1);
    expect(e.principal).toEqual({
      username: 'alice',
      groups: ['staff'],
      authMethod: 'api-token',
      credentialId: 'tok-1',
    });
    // Judged against the original target, with the credential given, from the address given.
    expect(authenticate).toHaveBeenCalledWith(
      {
        headers: { authorization: `Bearer ${TOKEN}` },
        ip: '10.0.0.9',
        target: { method: 'GET', url: '/rest/api/2/issue/X-1?expand=a' },
      },
      // The decision endpoint's own kinds.
      { kinds: DECISION_POLICY.kinds },
    );
    // The budget of the credential, read, not spent.
    expect(peek).toHaveBeenCalledWith('api-token:tok-1');
  });

  it('never echoes the credential', async () => {
    authenticate.mockRejectedValue(
      Problems.unauthorized('The API token is not valid', [{ scheme: 'Bearer' }], 'invalid_token'),
    );
    const e = await sut.explain(
      { method: 'GET', uri: '/x', authorization: `Bearer ${TOKEN}` },
      '10.0.0.9',
    );
    expect(JSON.stringify(e)).not.toContain('secretsecret');
    expect(e).toMatchObject({ decision: 'deny', status: 401, decidedBy: 'credential' });
    expect(e.steps.find((s) => s.step === 'credential')).toMatchObject({
      verdict: 'deny',
      code: 'invalid_token',
      decided: true,
    });
    // Later steps were not reached.
    expect(e.steps.find((s) => s.step === 'rate-limit')!.verdict).toBe('skip');
    expect(peek).not.toHaveBeenCalled();
  });

  it('uses the client address given, and the allow-list decides against it', async () => {
    build({ ip: { ...DEFAULT_SETTINGS.ip, allow: ['192.0.2.0/24'] } });
    const e = await sut.explain({ method: 'GET', uri: '/x', clientIp: '203.0.113.7' }, '192.0.2.1');
    expect(e).toMatchObject({
      decision: 'deny',
      status: 403,
      code: 'ip_not_allowed',
      decidedBy: 'allow-list',
      clientIp: '203.0.113.7',
    });
    expect(authenticate).not.toHaveBeenCalled();
    const fromOwn = await sut.explain({ method: 'GET', uri: '/x' }, '192.0.2.1');
    expect(fromOwn.steps.find((s) => s.step === 'allow-list')!.verdict).toBe('pass');
  });

  it('refuses a client address that is not one with a 400 naming the field', async () => {
    const caught = await sut
      .explain({ method: 'GET', uri: '/x', clientIp: 'not-an-ip' }, '10.0.0.1')
      .catch((err: unknown) => err);
    expect(caught).toBeInstanceOf(DomainError);
    expect((caught as DomainError).status).toBe(400);
    expect((caught as DomainError).extras.fields).toEqual({
      errors: [{ field: 'clientIp', messages: ['clientIp must be an IPv4 or IPv6 address'] }],
    });
  });

  it('refuses an invalid original URI as the decision endpoint does', async () => {
    const caught = await sut
      .explain({ method: 'GET', uri: '/public%2f..%2fadmin' }, '10.0.0.1')
      .catch((err: unknown) => err);
    expect((caught as DomainError).code).toBe('invalid_original_request');
  });

  it('a bypass path is decided by the route policy, with nothing else checked', async () => {
    build({ bypass: { paths: ['/health/*'] } });
    const e = await sut.explain({ method: 'GET', uri: '/health/live' }, '10.0.0.1');
    expect(e).toMatchObject({ decision: 'allow', decidedBy: 'route-policy' });
    expect(authenticate).not.toHaveBeenCalled();
    expect(peek).not.toHaveBeenCalled();
  });

  it('judges a path by its least open reading, as the decision endpoint does', async () => {
    build({ bypass: { paths: ['/public/**'] } });
    const e = await sut.explain({ method: 'GET', uri: '/public/../admin' }, '10.0.0.1');
    expect(e.path).toBe('/admin');
    expect(e.decidedBy).not.toBe('route-policy');
  });

  it('a public path skips the credential and spends (reads) the address budget', async () => {
    build({ publicApis: { requireAuthentication: false, paths: ['GET /docs/**'] } });
    const e = await sut.explain({ method: 'GET', uri: '/docs/a' }, '10.0.0.1');
    expect(e).toMatchObject({ decision: 'allow', decidedBy: 'rate-limit' });
    expect(e.steps.find((s) => s.step === 'credential')!.verdict).toBe('skip');
    expect(peek).toHaveBeenCalledWith('ip:10.0.0.1');
  });

  it('a read-only group member writing is refused by the group rule', async () => {
    build({ groups: { apiAccess: [], readOnly: ['staff'], tokenCreators: [] } });
    const e = await sut.explain(
      { method: 'POST', uri: '/x', authorization: 'Bearer t' },
      '10.0.0.1',
    );
    expect(e).toMatchObject({ decision: 'deny', status: 403, code: 'read_only_group' });
    expect(e.decidedBy).toBe('groups');
  });

  it('administrators pass the group rules', async () => {
    build({ groups: { apiAccess: ['nobody'], readOnly: [], tokenCreators: [] } });
    authenticate.mockResolvedValue({ principal: { ...alice, groups: [ADMIN_GROUP] } });
    const e = await sut.explain(
      { method: 'GET', uri: '/x', authorization: 'Bearer t' },
      '10.0.0.1',
    );
    expect(e.decision).toBe('allow');
  });

  it('a read-scoped token writing is refused by the scope rule', async () => {
    authenticate.mockResolvedValue({ principal: { ...alice, scopes: ['read'] } });
    const e = await sut.explain(
      { method: 'PUT', uri: '/x', authorization: 'Bearer t' },
      '10.0.0.1',
    );
    expect(e).toMatchObject({ decision: 'deny', code: 'scope_insufficient', decidedBy: 'scope' });
  });

  it('a spent budget is a 429 from the rate-limit step', async () => {
    peek.mockResolvedValue({
      limit: 2,
      remaining: 0,
      reset: 30,
      windowSeconds: 60,
      wouldRefuse: true,
    });
    const e = await sut.explain(
      { method: 'GET', uri: '/x', authorization: 'Bearer t' },
      '10.0.0.1',
    );
    expect(e).toMatchObject({
      decision: 'deny',
      status: 429,
      code: 'rate_limited',
      decidedBy: 'rate-limit',
    });
  });

  it('an upstream-native token passes when nativeOAuthTokens allows it', async () => {
    authenticate.mockRejectedValue(Problems.unauthorized('not ours', [{ scheme: 'Bearer' }]));
    nativePasses.mockReturnValue(true);
    const e = await sut.explain(
      { method: 'GET', uri: '/x', authorization: 'Bearer opaque' },
      '10.0.0.1',
    );
    expect(e.decision).toBe('allow');
    expect(e.steps.find((s) => s.step === 'credential')!.verdict).toBe('pass');
    expect(peek).toHaveBeenCalledWith('ip:10.0.0.1');
  });

  it('with restApiAuthentication off everything is let through', async () => {
    build({ restApiAuthentication: { enabled: false } });
    const e = await sut.explain({ method: 'DELETE', uri: '/x' }, '10.0.0.1');
    expect(e.decision).toBe('allow');
    expect(authenticate).not.toHaveBeenCalled();
  });

  it('a password check counts against the password-guessing budget', async () => {
    const end = jest.fn();
    beginLogin.mockResolvedValue(end);
    authenticate.mockRejectedValue(
      Problems.unauthorized('bad', [{ scheme: 'Basic' }], 'invalid_credentials'),
    );
    const basic = `Basic ${Buffer.from('bob:guess').toString('base64')}`;
    const e = await sut.explain({ method: 'GET', uri: '/x', authorization: basic }, '10.0.0.1');
    expect(beginLogin).toHaveBeenCalledWith('bob', '10.0.0.1');
    expect(end).toHaveBeenCalledWith(true);
    expect(e.code).toBe('invalid_credentials');
    expect(JSON.stringify(e)).not.toContain('guess');
  });
});
