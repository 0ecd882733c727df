import { CredentialKind } from '../common/principal';
import { lockoutReasons } from './lockout';
import { DEFAULT_SETTINGS, Settings } from './settings.defaults';

function settings(change: (s: Settings) => void = () => undefined): Settings {
  const next = structuredClone(DEFAULT_SETTINGS);
  change(next);
  return next;
}

const allow = (...ranges: string[]) => settings((s) => (s.ip.allow = ranges));
const admin = (ip: string, authMethod: CredentialKind = 'access') => ({
  socketAddress: ip,
  headers: {},
  authMethod,
});

describe('lockoutReasons', () => {
  it('finds nothing in the defaults', () => {
    for (const method of ['access', 'basic', 'api-token'] as CredentialKind[]) {
      expect(lockoutReasons(settings(), admin('203.0.113.5', method))).toEqual([]);
    }
  });

  describe('ip.allow', () => {
    it("gives a reason when a non-empty allow-list lacks the admin's address", () => {
      const sut = lockoutReasons(allow('10.0.0.0/8', '198.51.100.1'), admin('203.0.113.5'));
      expect(sut).toHaveLength(1);
      expect(sut[0]).toContain('203.0.113.5');
      expect(sut[0]).toContain('ip.allow');
    });

    it("finds nothing when the list holds the admin's address", () => {
      expect(lockoutReasons(allow('203.0.113.5'), admin('203.0.113.5'))).toEqual([]);
      expect(lockoutReasons(allow('10.0.0.0/8', '203.0.113.5'), admin('203.0.113.5'))).toEqual([]);
    });

    it('finds nothing when a CIDR range covers the address', () => {
      expect(lockoutReasons(allow('203.0.113.0/24'), admin('203.0.113.5'))).toEqual([]);
      expect(lockoutReasons(allow('203.0.113.0/24'), admin('203.0.114.5'))).toHaveLength(1);
    });

    it('works the address out as the new settings would: forwarding header and trusted proxies', () => {
      // An admin behind a proxy on 127.0.0.1 (trusted by default), seen as 198.51.100.7.
      const behindProxy = {
        socketAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': '198.51.100.7' },
        authMethod: 'access' as CredentialKind,
      };
      const allowed = (change: (s: Settings) => void = () => undefined) =>
        settings((s) => {
          s.ip.allow = ['198.51.100.0/24'];
          change(s);
        });
      expect(lockoutReasons(allowed(), behindProxy)).toEqual([]);
      // Another header: the proxy's own address is what the new settings would judge.
      const otherHeader = lockoutReasons(
        allowed((s) => (s.ip.clientIpHeader = 'X-Real-IP')),
        behindProxy,
      );
      expect(otherHeader).toHaveLength(1);
      expect(otherHeader[0]).toContain('127.0.0.1');
      // The proxy no longer trusted: the same.
      expect(
        lockoutReasons(
          allowed((s) => (s.ip.trustedProxies = [])),
          behindProxy,
        ),
      ).toHaveLength(1);
      // A header the new settings read, from a proxy they trust, holding an allowed address.
      expect(
        lockoutReasons(
          allowed((s) => {
            s.ip.clientIpHeader = 'X-Real-IP';
            s.ip.trustedProxies = ['127.0.0.0/8'];
          }),
          { ...behindProxy, headers: { 'x-real-ip': '198.51.100.9' } },
        ),
      ).toEqual([]);
    });

    it('handles IPv6 addresses and ranges', () => {
      expect(lockoutReasons(allow('2001:db8::/32'), admin('2001:db8::1'))).toEqual([]);
      expect(lockoutReasons(allow('2001:db8::1'), admin('2001:db8:0:0::1'))).toEqual([]);
      expect(lockoutReasons(allow('2001:db8::/32'), admin('2001:db9::1'))).toHaveLength(1);
      // An IPv6 admin is not let in by an IPv4-only list, nor the other way round.
      expect(lockoutReasons(allow('0.0.0.0/0'), admin('2001:db8::1'))).toHaveLength(1);
      expect(lockoutReasons(allow('::/0'), admin('203.0.113.5'))).toHaveLength(1);
    });

    it('treats an IPv4-mapped IPv6 address as the IPv4 address', () => {
      expect(lockoutReasons(allow('203.0.113.0/24'), admin('::ffff:203.0.113.5'))).toEqual([]);
    });

    it('gives a reason when the address cannot be parsed', () => {
      expect(lockoutReasons(allow('10.0.0.0/8'), admin('unknown'))).toHaveLength(1);
      expect(lockoutReasons(allow('10.0.0.0/8'), admin(''))).toHaveLength(1);
    });

    it('finds nothing for an empty allow-list, which means every address', () => {
      expect(lockoutReasons(allow(), admin('203.0.113.5'))).toEqual([]);
    });
  });

  describe('credential kinds', () => {
    const noBasic = settings((s) => (s.basicAuth.enabled = false));
    const noTokens = settings((s) => (s.apiTokens.enabled = false));

    it('gives a reason when basicAuth is switched off by an admin using Basic', () => {
      const sut = lockoutReasons(noBasic, admin('203.0.113.5', 'basic'));
      expect(sut).toHaveLength(1);
      expect(sut[0]).toContain('basicAuth.enabled=false');
    });

    it('finds nothing when basicAuth is switched off by an admin using an access token', () => {
      expect(lockoutReasons(noBasic, admin('203.0.113.5', 'access'))).toEqual([]);
      expect(lockoutReasons(noBasic, admin('203.0.113.5', 'api-token'))).toEqual([]);
    });

    it('gives a reason when apiTokens is switched off by an admin using an API token', () => {
      const sut = lockoutReasons(noTokens, admin('203.0.113.5', 'api-token'));
      expect(sut).toHaveLength(1);
      expect(sut[0]).toContain('apiTokens.enabled=false');
    });

    it('finds nothing when apiTokens is switched off by an admin using another credential', () => {
      expect(lockoutReasons(noTokens, admin('203.0.113.5', 'basic'))).toEqual([]);
      expect(lockoutReasons(noTokens, admin('203.0.113.5', 'access'))).toEqual([]);
    });
  });

  it('lists every reason at once', () => {
    const next = settings((s) => {
      s.ip.allow = ['10.0.0.0/8'];
      s.basicAuth.enabled = false;
    });
    expect(lockoutReasons(next, admin('203.0.113.5', 'basic'))).toHaveLength(2);
  });
});
