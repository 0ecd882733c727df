import fc from 'fast-check';
import { HostRequestError, targetProblem, tenantUrl, wireTarget } from './host-request';

describe('wireTarget', () => {
  it.each([
    ['/rest/api/2/serverInfo', '/rest/api/2/serverInfo'],
    ['/rest/a b', '/rest/a%20b'],
    ['/rest/café', '/rest/caf%C3%A9'],
    ['/rest/😀', '/rest/%F0%9F%98%80'],
    ['/rest/"<>[]^`{|}', '/rest/%22%3C%3E%5B%5D%5E%60%7B%7C%7D'],
    ["/rest/a:b@c!$&'()*+,;=-._~", "/rest/a:b@c!$&'()*+,;=-._~"],
    ['/rest/a%2Fb%c3%a9', '/rest/a%2Fb%c3%a9'],
    ['/rest/a..b/.well-known/...', '/rest/a..b/.well-known/...'],
    ['/', '/'],
    ['/rest?q=a b&x=é', '/rest?q=a%20b&x=%C3%A9'],
    ["/rest?q='x'&r=?/:@", '/rest?q=%27x%27&r=?/:@'],
    ['/rest?jql=a+b&a=%20', '/rest?jql=a+b&a=%20'],
    ['/rest?', '/rest?'],
    ['/rest/a b?q=a b', '/rest/a%20b?q=a%20b'],
  ])('sends %j as %j', (target, wire) => {
    expect(wireTarget(target)).toBe(wire);
  });

  it.each([
    ['rest/x', /relative/],
    ['https://evil.example/x', /relative/],
    ['//evil.example/x', /relative/],
    ['/rest/a\r\nHost: evil', /control/],
    ['/rest/a\nb', /control/],
    ['/rest/a\tb', /control/],
    ['/rest/a\u0000b', /control/],
    ['/rest/a\u007fb', /control/],
    ['/rest/a\u0085b', /control/],
    ['/rest?q=\r\n', /control/],
    ['/rest\\x', /backslash/],
    ['/rest#x', /fragment/],
    ['/rest/\ud800x', /Unicode/],
    ['/rest/x\udc00', /Unicode/],
    ['/rest/%ZZ', /%XX/],
    ['/rest?a=%ZZ', /%XX/],
    ['/rest?a=%', /%XX/],
    ['/rest/%2', /%XX/],
    ['/rest/../admin', /segments/],
    ['/rest/..', /segments/],
    ['/./rest', /segments/],
    ['/rest/%2e%2E/admin', /segments/],
    ['/rest/.%2e/admin', /segments/],
    ['/rest/%2e/x', /segments/],
    ['/rest?q=%FF', /cannot be signed/],
  ])('refuses %j', (target, message) => {
    expect(() => wireTarget(target)).toThrow(HostRequestError);
    expect(targetProblem(target)).toMatch(message);
  });

  it('is idempotent, and what it accepts a URL parser sends unchanged under any base path', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (tail) => {
        const target = `/${tail}`;
        if (targetProblem(target) !== null) return;
        const wire = wireTarget(target);
        expect(wireTarget(wire)).toBe(wire);
        const url = tenantUrl('https://tenant.example.net/wiki', wire);
        expect(new URL(url).href).toBe(`https://tenant.example.net/wiki${wire}`);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('tenantUrl', () => {
  it('keeps the base URL path as the prefix, with or without its trailing slash', () => {
    expect(tenantUrl('https://t.example.net/wiki', '/rest/a%20b')).toBe(
      'https://t.example.net/wiki/rest/a%20b',
    );
    expect(tenantUrl('https://t.example.net/wiki/', '/rest')).toBe(
      'https://t.example.net/wiki/rest',
    );
    expect(tenantUrl('https://t.example.net', '/rest?q=1')).toBe('https://t.example.net/rest?q=1');
    expect(tenantUrl('http://127.0.0.1:8080/jira', '/')).toBe('http://127.0.0.1:8080/jira/');
  });

  it('refuses a target a URL parser would rewrite', () => {
    expect(() => tenantUrl('https://t.example.net', '/rest/a b')).toThrow(HostRequestError);
    expect(() => tenantUrl('https://t.example.net', '/rest/../x')).toThrow(HostRequestError);
  });
});
