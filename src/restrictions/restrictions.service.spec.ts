import { ADMIN_GROUP, Principal } from '../common/principal';
import { DomainError } from '../common/problem/domain-error';
import { strict } from '../../test/support/strict-mock';
import { RestrictionsService } from './restrictions.service';
import { DEFAULT_SETTINGS, Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';

function principal(groups: string[]): Principal {
  return {
    id: 'u',
    username: 'alice',
    groups,
    authMethod: 'access',
    credentialId: 's',
    scopes: ['read', 'write'],
  };
}

/** The code a check refuses with, or `allowed`. */
function verdict(check: () => void): string {
  try {
    check();
  } catch (err) {
    if (err instanceof DomainError) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'allowed';
}

describe(RestrictionsService.name, () => {
  let settings: Settings;
  let onChange: (next: Settings) => void;

  function build(change: (s: Settings) => void = () => undefined): RestrictionsService {
    settings = structuredClone(DEFAULT_SETTINGS);
    change(settings);
    return new RestrictionsService(
      strict<SettingsService>({
        get: jest.fn(() => settings),
        onChange: jest.fn((listener: (next: Settings) => void) => (onChange = listener)),
      }),
    );
  }

  describe('openness', () => {
    const sut = () =>
      build((s) => {
        s.bypass.paths = ['/health', 'GET /status/**'];
        s.publicApis.paths = ['/rest/public/**', '/status/**', 'POST /hooks/*'];
      });

    it.each([
      ['GET', '/health', 'bypass'],
      ['POST', '/health', 'bypass'],
      ['GET', '/status/db', 'bypass'],
      ['POST', '/status/db', 'public'],
      ['GET', '/rest/public/a/b', 'public'],
      ['POST', '/hooks/jira', 'public'],
      ['GET', '/hooks/jira', 'protected'],
      ['POST', '/hooks/jira/deeper', 'protected'],
      ['GET', '/rest/api/2/issue', 'protected'],
      ['GET', '/health/extra', 'protected'],
    ])('%s %s is %s', (method, path, expected) => {
      expect(sut().openness(method, path)).toBe(expected);
    });

    it('takes the least open of the readings of a request', () => {
      const restrictions = sut();
      expect(restrictions.openness('GET', '/health', ['/status/x'])).toBe('bypass');
      expect(restrictions.openness('GET', '/health', ['/rest/public/x'])).toBe('public');
      expect(restrictions.openness('GET', '/health', ['/rest/public/x', '/admin'])).toBe(
        'protected',
      );
      expect(restrictions.openness('GET', '/admin', ['/health'])).toBe('protected');
    });

    it('makes public paths protected when publicApis.requireAuthentication is on, but not bypass ones', () => {
      const restrictions = build((s) => {
        s.bypass.paths = ['/health'];
        s.publicApis.paths = ['/rest/public/**'];
        s.publicApis.requireAuthentication = true;
      });
      expect(restrictions.openness('GET', '/rest/public/x')).toBe('protected');
      expect(restrictions.openness('GET', '/health')).toBe('bypass');
    });

    it('follows a change of the settings', () => {
      const restrictions = sut();
      const next = structuredClone(settings);
      next.bypass.paths = [];
      onChange(next);
      expect(restrictions.openness('GET', '/health')).toBe('protected');
    });
  });

  describe('checkAddress', () => {
    it('lets every address in while the allow-list is empty', () => {
      const restrictions = build();
      expect(verdict(() => restrictions.checkAddress('198.51.100.1'))).toBe('allowed');
      expect(verdict(() => restrictions.checkAddress('not an address'))).toBe('allowed');
    });

    it.each([
      ['10.1.2.3', 'allowed'],
      ['203.0.113.5', 'allowed'],
      ['203.0.113.6', '403 ip_not_allowed'],
      ['2001:db8::1', 'allowed'],
      ['2001:db9::1', '403 ip_not_allowed'],
      ['::ffff:10.1.2.3', 'allowed'],
      ['not an address', '403 ip_not_allowed'],
      ['', '403 ip_not_allowed'],
    ])('judges %s against the list: %s', (ip, expected) => {
      const restrictions = build(
        (s) => (s.ip.allow = ['10.0.0.0/8', '203.0.113.5', '2001:db8::/32']),
      );
      expect(verdict(() => restrictions.checkAddress(ip))).toBe(expected);
    });

    it('names the address refused', () => {
      const restrictions = build((s) => (s.ip.allow = ['10.0.0.0/8']));
      expect(() => restrictions.checkAddress('198.51.100.1')).toThrow(
        'Requests from 198.51.100.1 are not allowed',
      );
    });

    it('forgets remembered verdicts when the list changes', () => {
      const restrictions = build((s) => (s.ip.allow = ['10.0.0.0/8']));
      expect(verdict(() => restrictions.checkAddress('198.51.100.1'))).toBe('403 ip_not_allowed');
      onChange({ ...settings, ip: { ...settings.ip, allow: ['198.51.100.0/24'] } });
      expect(verdict(() => restrictions.checkAddress('198.51.100.1'))).toBe('allowed');
      expect(verdict(() => restrictions.checkAddress('10.0.0.1'))).toBe('403 ip_not_allowed');
    });
  });

  describe('checkGroups', () => {
    const sut = () =>
      build((s) => {
        s.groups.apiAccess = ['API-Users', 'partners'];
        s.groups.readOnly = ['Readers'];
      });

    it.each([
      [['api-users'], 'GET', 'allowed'],
      [['API-USERS'], 'DELETE', 'allowed'],
      [['staff'], 'GET', '403 not_in_api_access_group'],
      [[], 'GET', '403 not_in_api_access_group'],
      [['partners', 'readers'], 'GET', 'allowed'],
      [['partners', 'readers'], 'HEAD', 'allowed'],
      [['partners', 'readers'], 'OPTIONS', 'allowed'],
      [['partners', 'READERS'], 'POST', '403 read_only_group'],
      [['partners', 'readers'], 'PATCH', '403 read_only_group'],
      [['readers'], 'POST', '403 not_in_api_access_group'],
      [[ADMIN_GROUP], 'POST', 'allowed'],
      [[ADMIN_GROUP, 'readers'], 'DELETE', 'allowed'],
    ])('a member of %p doing %s: %s', (groups, method, expected) => {
      const restrictions = sut();
      expect(verdict(() => restrictions.checkGroups(principal(groups), method))).toBe(expected);
    });

    it('applies no group rule while both lists are empty', () => {
      const restrictions = build();
      expect(verdict(() => restrictions.checkGroups(principal([]), 'DELETE'))).toBe('allowed');
    });

    it('applies the read-only rule alone when no apiAccess list is set', () => {
      const restrictions = build((s) => (s.groups.readOnly = ['readers']));
      expect(verdict(() => restrictions.checkGroups(principal(['readers']), 'PUT'))).toBe(
        '403 read_only_group',
      );
      expect(verdict(() => restrictions.checkGroups(principal(['staff']), 'PUT'))).toBe('allowed');
    });
  });
});
