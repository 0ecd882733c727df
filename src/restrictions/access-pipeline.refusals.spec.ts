import { AuditSink } from '../audit/audit.port';
import { AuthPolicy } from '../common/decorators/auth-policy.decorator';
import { DomainError } from '../common/problem/domain-error';
import { ADMIN_GROUP, Principal } from '../common/principal';
import { MetricsService } from '../metrics/metrics.service';
import { strict } from '../../test/support/strict-mock';
import { AccessPipeline, ANONYMOUS } from './access-pipeline.service';
import { AccessAudit } from './access-audit';
import { Settings } from '../settings/settings.defaults';
import {
  accessPipelineSpec,
  API_TOKEN_AS_PASSWORD,
  IP,
  OTHER_NETWORK,
  PASSWORD,
  rejection,
  STATE,
} from '../../test/support/access-pipeline';
import { settled } from '../../test/support/maybe-promise';
import { principal } from '../../test/support/principal';

describe(AccessPipeline.name, () => {
  const spec = accessPipelineSpec();
  const { build, input } = spec;
  let { authenticator, limiter, sut } = spec;
  beforeEach(() => ({ authenticator, limiter, sut } = spec));

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
      const err = await rejection(() => sut.judge(input()));
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
        const err = await rejection(() => sut.judge(input({ policy, authorization: PASSWORD })));
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
      await expect(settled(() => sut.judge(input({ authorization: PASSWORD })))).rejects.toBe(
        spent,
      );
      expect(limiter.assertPasswordChecksAllowed).toHaveBeenCalledWith(IP);
      expect(limiter.beginLogin).not.toHaveBeenCalled();
      expect(authenticator.authenticate).not.toHaveBeenCalled();
    });

    it('refuses a password before checking it once its login window is spent', async () => {
      const spent = new DomainError(429, 'login_rate_limited', 'Too Many Requests', 'spent');
      limiter.beginLogin.mockRejectedValue(spent);
      await expect(settled(() => sut.judge(input({ authorization: PASSWORD })))).rejects.toBe(
        spent,
      );
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
      const err = await rejection(() => sut.judge(input({ method: 'POST', policy })));
      expect(err.status).toBe(403);
      expect(err.code).toBe(code);
      // A rule that refused after sign-in spends no budget.
      expect(limiter.consume).not.toHaveBeenCalled();
      expect(limiter.countRefused).not.toHaveBeenCalled();
    });

    it('names the refused caller in the audit of a refusal after sign-in', async () => {
      sut = build((s) => (s.groups.apiAccess = ['api-users']));
      const err = await rejection(() => sut.judge(input()));
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
      await expect(settled(() => sut.judge(input({ policy: {} })))).resolves.toMatchObject({
        rateLimit: STATE,
      });
      for (const who of [{ groups: [ADMIN_GROUP] }, { authMethod: 'connect' as const }]) {
        authenticator.authenticate.mockResolvedValue({ principal: principal(who) });
        await expect(settled(() => sut.judge(input()))).resolves.toMatchObject({
          rateLimit: STATE,
        });
      }
    });
  });
});
