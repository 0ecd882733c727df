import { compilePathPattern, isValidPathPattern, matchesPath, PathPattern } from './path-pattern';

function compiled(...patterns: string[]): PathPattern[] {
  return patterns.map((p) => {
    const sut = compilePathPattern(p);
    if (!sut) throw new Error(`pattern ${p} did not compile`);
    return sut;
  });
}

/** Whether one method-less (or method-specific) pattern matches a GET of `path`. */
function matches(pattern: string, path: string, method = 'GET'): boolean {
  return matchesPath(compiled(pattern), method, path);
}

describe('path patterns', () => {
  describe('validation', () => {
    it.each([
      '/',
      '/rest/api/2/issue',
      '/rest/**',
      '/rest/api/*/issue',
      '/files/*.json',
      "/a-b_c.d~e!$&'()+,;=:@%20",
      'GET /rest/api/2/*',
      'HEAD /x',
      'POST /x',
      'PUT /x',
      'PATCH /x',
      'DELETE /x',
      'OPTIONS /x',
    ])('accepts %j', (pattern) => {
      expect(isValidPathPattern(pattern)).toBe(true);
      expect(compilePathPattern(pattern)).not.toBeNull();
    });

    it.each([
      ['', 'empty'],
      ['rest/api', 'missing leading slash'],
      ['*', 'missing leading slash'],
      ['GET rest', 'missing leading slash after a method'],
      ['FETCH /x', 'unknown method'],
      ['CONNECT /x', 'method not in the list'],
      ['get /x', 'lower-case method'],
      ['GET', 'method without a path'],
      ['GET  /x', 'two spaces'],
      [' /x', 'leading space'],
      ['/x ', 'trailing space'],
      ['/a b', 'space inside'],
      ['/a\tb', 'tab inside'],
      ['/a\nb', 'newline inside'],
      ['/***', 'three stars'],
      ['/a/****/b', 'four stars'],
      ['/a?b', 'query mark'],
      ['/a#b', 'fragment'],
      ['/a[b]', 'brackets'],
      ['/a\\b', 'backslash'],
      ['/' + 'a'.repeat(500), 'longer than 500 characters'],
    ])('refuses %j (%s)', (pattern) => {
      expect(isValidPathPattern(pattern)).toBe(false);
      expect(compilePathPattern(pattern)).toBeNull();
    });

    it('keeps the method and the source', () => {
      expect(compilePathPattern('DELETE /x/*')).toMatchObject({
        method: 'DELETE',
        source: 'DELETE /x/*',
      });
      expect(compilePathPattern('/x/*')).toMatchObject({ method: null, source: '/x/*' });
    });
  });

  describe('matching', () => {
    it('matches the whole path, not a part of it', () => {
      expect(matches('/a', '/a')).toBe(true);
      expect(matches('/a', '/a/b')).toBe(false);
      expect(matches('/a', '/xa')).toBe(false);
      expect(matches('/a', '/ab')).toBe(false);
      expect(matches('/a/b', '/a')).toBe(false);
    });

    it('* matches within one segment only', () => {
      expect(matches('/a/*', '/a/b')).toBe(true);
      expect(matches('/a/*', '/a/')).toBe(true);
      expect(matches('/a/*', '/a/b/c')).toBe(false);
      expect(matches('/a/*/c', '/a/b/c')).toBe(true);
      expect(matches('/a/*/c', '/a/b/x/c')).toBe(false);
      expect(matches('/files/*.json', '/files/report.json')).toBe(true);
      expect(matches('/files/*.json', '/files/x/report.json')).toBe(false);
      expect(matches('/files/*.json', '/files/report.xml')).toBe(false);
    });

    it('** matches across segments', () => {
      expect(matches('/a/**', '/a/b')).toBe(true);
      expect(matches('/a/**', '/a/b/c/d')).toBe(true);
      expect(matches('/a/**', '/a/')).toBe(true);
      expect(matches('/a/**', '/b/c')).toBe(false);
      expect(matches('/a/**/z', '/a/b/c/z')).toBe(true);
      expect(matches('/a/**/z', '/a/b/c/y')).toBe(false);
      expect(matches('/**', '/anything/at/all')).toBe(true);
    });

    it('a pattern with a method matches that method only; one without matches every method', () => {
      const sut = compiled('GET /reports/**', '/health');
      expect(matchesPath(sut, 'GET', '/reports/1')).toBe(true);
      expect(matchesPath(sut, 'POST', '/reports/1')).toBe(false);
      expect(matchesPath(sut, 'DELETE', '/reports/1')).toBe(false);
      for (const method of ['GET', 'POST', 'DELETE', 'OPTIONS']) {
        expect(matchesPath(sut, method, '/health')).toBe(true);
      }
      expect(matchesPath(sut, 'GET', '/other')).toBe(false);
      expect(matchesPath([], 'GET', '/health')).toBe(false);
    });

    it('takes regular-expression characters in a pattern literally', () => {
      expect(matches('/a.b', '/a.b')).toBe(true);
      expect(matches('/a.b', '/axb')).toBe(false);
      expect(matches('/a+', '/a+')).toBe(true);
      expect(matches('/a+', '/a')).toBe(false);
      expect(matches('/a+', '/aa')).toBe(false);
      expect(matches('/(x)', '/(x)')).toBe(true);
      expect(matches('/(x)', '/x')).toBe(false);
      expect(matches('/a$b', '/a$b')).toBe(true);
      expect(matches('/a$', '/a')).toBe(false);
      expect(matches('/x/*.*', '/x/a.b')).toBe(true);
      expect(matches('/x/*.*', '/x/ab')).toBe(false);
    });
  });
});
