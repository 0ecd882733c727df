import { DomainError } from '../common/problem/domain-error';
import { originalRequest } from './original-request';

const nginx = (uri: string) => ({ 'x-original-method': 'GET', 'x-original-uri': uri });

describe('originalRequest', () => {
  it.each<[string, string, string[] | undefined]>([
    ['/public/x', '/public/x', undefined],
    // No dot segment: judged as sent, and as servers that merge `//` serve it.
    ['//health', '//health', ['/health']],
    ['/a//b///c', '/a//b///c', ['/a/b/c']],
    ['/public/../admin', '/admin', undefined],
    ['/public/x;jsessionid=1', '/public/x', undefined],
    // Servers that merge `//` first serve /admin.
    ['/public//../admin', '/public/admin', ['/admin']],
    // Only Tomcat drops parameters: others keep `..;` as a name.
    ['/admin/..;/public/x', '/public/x', ['/admin/..;/public/x']],
    // Both at once: every combination.
    ['/a//..;/b', '/a/b', ['/a//..;/b', '/b', '/a/..;/b']],
    // Readings that agree are not repeated.
    ['/public/a/b/../c', '/public/a/c', undefined],
  ])('%s is judged as %s, also read as %j', (uri, path, others) => {
    const original = originalRequest(nginx(uri));
    expect(original.path).toBe(path);
    expect(original.otherReadings).toEqual(others);
    expect(original.uri).toBe(uri);
  });

  // '/public, /admin/x': the header sent twice, as Node joins it.
  it.each([
    '/admin#/health',
    '/x?y#z',
    '/public%2f..%2fadmin',
    '/a\\b',
    'admin',
    '/a b',
    '/public, /admin/x',
  ])('refuses %s with 400', (uri) => {
    let caught: unknown;
    try {
      originalRequest(nginx(uri));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DomainError);
    expect((caught as DomainError).status).toBe(400);
    expect((caught as DomainError).code).toBe('invalid_original_request');
  });
});

describe('originalRequest and control characters', () => {
  const refused = (headers: Record<string, string>) => {
    try {
      originalRequest(headers);
    } catch (err) {
      return err;
    }
    return undefined;
  };
  const expectRefused = (headers: Record<string, string>) => {
    const caught = refused(headers);
    expect(caught).toBeInstanceOf(DomainError);
    expect((caught as DomainError).status).toBe(400);
    expect((caught as DomainError).code).toBe('invalid_original_request');
  };

  // Every C0 control, DEL and every C1 control.
  const controls = [
    ...Array.from({ length: 0x20 }, (_, c) => c),
    0x7f,
    ...Array.from({ length: 0x20 }, (_, c) => 0x80 + c),
  ].map((c) => String.fromCharCode(c));

  it.each(controls.map((c) => [`U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`, c]))(
    'refuses %s in the original URI, wherever it stands',
    (_name, c) => {
      for (const uri of [`/admin/..${c}/public/x`, `/public/x${c}`, `/x?q=${c}`, `/${c}admin`])
        expectRefused(nginx(uri));
      // Traefik's pair as nginx's.
      expectRefused({ 'x-forwarded-method': 'GET', 'x-forwarded-uri': `/admin/..${c}/public/x` });
    },
  );

  it.each(controls.map((c) => [`U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`, c]))(
    'refuses %s in the original method',
    (_name, c) => {
      expectRefused({ 'x-original-method': `GET${c}`, 'x-original-uri': '/public/x' });
      expectRefused({ 'x-forwarded-method': `${c}GET`, 'x-forwarded-uri': '/public/x' });
    },
  );

  it('keeps what is not a control character: printable ASCII, U+00A0 and beyond', () => {
    expect(originalRequest(nginx('/public/caf\u00e9\u00a0x?q=~')).path).toBe(
      '/public/caf\u00e9\u00a0x',
    );
  });
});
