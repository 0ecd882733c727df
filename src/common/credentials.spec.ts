import { connectTokenOf, parseAuthorization } from './credentials';

function basic(userPass: string): string {
  return `Basic ${Buffer.from(userPass, 'utf8').toString('base64')}`;
}

describe('parseAuthorization', () => {
  describe('no credentials', () => {
    it('returns none for an absent header', () => {
      expect(parseAuthorization(undefined)).toEqual({ scheme: 'none' });
    });

    it('returns none for an empty header', () => {
      expect(parseAuthorization('')).toEqual({ scheme: 'none' });
    });
  });

  describe('Bearer', () => {
    it('returns the token', () => {
      expect(parseAuthorization('Bearer eyJhbGciOi.eyJzdWIi.c2ln-_')).toEqual({
        scheme: 'bearer',
        token: 'eyJhbGciOi.eyJzdWIi.c2ln-_',
      });
    });

    it.each(['bearer', 'BEARER', 'bEaReR'])('treats the scheme %s case-insensitively', (name) => {
      expect(parseAuthorization(`${name} abc123`)).toEqual({ scheme: 'bearer', token: 'abc123' });
    });

    it('accepts token68 characters and trailing padding', () => {
      expect(parseAuthorization('Bearer a-b.c_d~e+f/g==')).toEqual({
        scheme: 'bearer',
        token: 'a-b.c_d~e+f/g==',
      });
    });

    it('trims whitespace around the token', () => {
      expect(parseAuthorization('Bearer   abc123  ')).toEqual({
        scheme: 'bearer',
        token: 'abc123',
      });
    });

    it('refuses a value containing a space as malformed', () => {
      expect(parseAuthorization('Bearer abc def').scheme).toBe('malformed');
    });

    it('refuses an empty value as malformed', () => {
      expect(parseAuthorization('Bearer ').scheme).toBe('malformed');
    });

    it('refuses a comma (a second credential or parameter list) as malformed', () => {
      expect(parseAuthorization('Bearer abc,def').scheme).toBe('malformed');
    });

    // The character-level syntax is the verifier's to judge (decodeJws refuses anything but
    // base64url segments), so that a remembered token is not scanned on every request.
    it.each(['abc"def', 'a=bc', 'abc;def'])('passes %j on for the verifier to refuse', (value) => {
      expect(parseAuthorization(`Bearer ${value}`)).toEqual({ scheme: 'bearer', token: value });
    });
  });

  describe('bare token', () => {
    it('returns a header without a scheme as a bare token', () => {
      expect(parseAuthorization('eyJhbGciOi.eyJzdWIi.c2ln')).toEqual({
        scheme: 'bare',
        token: 'eyJhbGciOi.eyJzdWIi.c2ln',
      });
    });

    it('takes a scheme name alone (`Bearer ` trimmed) for a malformed header, not a token', () => {
      for (const header of ['Bearer', 'bearer', 'Basic', 'JWT', 'APIToken']) {
        expect(parseAuthorization(header).scheme).toBe('malformed');
      }
    });

    it('refuses a bare value with characters outside token68 as malformed', () => {
      expect(parseAuthorization('abc@def').scheme).toBe('malformed');
      expect(parseAuthorization('abc\tdef').scheme).toBe('malformed');
    });
  });

  describe('Basic', () => {
    it('returns username and password', () => {
      expect(parseAuthorization(basic('alice:s3cret'))).toEqual({
        scheme: 'basic',
        username: 'alice',
        password: 's3cret',
      });
    });

    it('splits at the first colon, so the password may contain colons', () => {
      expect(parseAuthorization(basic('alice:pa:ss:word:'))).toEqual({
        scheme: 'basic',
        username: 'alice',
        password: 'pa:ss:word:',
      });
    });

    it('decodes a UTF-8 username and password', () => {
      expect(parseAuthorization(basic('jürgen.müller@例え.jp:pässwörd€'))).toEqual({
        scheme: 'basic',
        username: 'jürgen.müller@例え.jp',
        password: 'pässwörd€',
      });
    });

    it('accepts an empty password', () => {
      expect(parseAuthorization(basic('alice:'))).toEqual({
        scheme: 'basic',
        username: 'alice',
        password: '',
      });
    });

    it('treats the scheme case-insensitively', () => {
      const encoded = Buffer.from('bob:pw').toString('base64');

      expect(parseAuthorization(`bAsIc ${encoded}`)).toEqual({
        scheme: 'basic',
        username: 'bob',
        password: 'pw',
      });
    });

    it.each([
      ['characters outside base64', 'Basic !!!!'],
      ['base64url characters', 'Basic ab-_'],
      ['missing padding', `Basic ${Buffer.from('alice:pw').toString('base64').replace(/=+$/, '')}`],
      ['padding in the middle', 'Basic YW=xpY2U6cHc='],
      ['an empty value', 'Basic '],
    ])('refuses %s as malformed', (_name, header) => {
      expect(parseAuthorization(header).scheme).toBe('malformed');
    });

    it('refuses credentials without a colon as malformed', () => {
      expect(parseAuthorization(basic('alice')).scheme).toBe('malformed');
    });

    it('refuses an empty username as malformed', () => {
      expect(parseAuthorization(basic(':s3cret')).scheme).toBe('malformed');
    });
  });

  describe('other schemes', () => {
    it.each([
      ['Digest username="alice", realm="x"', 'digest'],
      ['Negotiate YIIB', 'negotiate'],
    ])('returns %j as other with the lower-cased name', (header, name) => {
      expect(parseAuthorization(header)).toEqual({ scheme: 'other', name });
    });
  });

  describe('JWT (Atlassian Connect)', () => {
    it('takes the token of `JWT <token>`, whatever the case of the scheme', () => {
      expect(parseAuthorization('JWT a.b.c')).toEqual({ scheme: 'jwt', token: 'a.b.c' });
      expect(parseAuthorization('jwt a.b.c')).toEqual({ scheme: 'jwt', token: 'a.b.c' });
    });

    it('refuses an empty token or one with a space or comma as malformed', () => {
      expect(parseAuthorization('JWT ').scheme).toBe('malformed');
      expect(parseAuthorization('JWT a b').scheme).toBe('malformed');
      expect(parseAuthorization('JWT a,b').scheme).toBe('malformed');
    });

    it('finds the token in the header first, else in the jwt query parameter', () => {
      const none = parseAuthorization(undefined);
      expect(connectTokenOf(parseAuthorization('JWT h.h.h'), '/x?a=1')).toBe('h.h.h');
      expect(connectTokenOf(none, '/x?a=1&jwt=q.q.q&b=2')).toBe('q.q.q');
      expect(connectTokenOf(none, '/x?notjwt=q.q.q')).toBeNull();
      expect(connectTokenOf(none, '/x?jwt=')).toBeNull();
      expect(connectTokenOf(none, '/x')).toBeNull();
      expect(connectTokenOf(parseAuthorization('Bearer t'), '/x?jwt=q.q.q')).toBeNull();
    });

    it('finds the parameter by its decoded name', () => {
      expect(connectTokenOf(parseAuthorization(undefined), '/x?%6Awt=q.q.q')).toBe('q.q.q');
      expect(connectTokenOf(parseAuthorization(undefined), '/x?%zz=1&jwt=q.q.q')).toBe('q.q.q');
    });

    it('refuses a header and a parameter together rather than choosing one', () => {
      expect(connectTokenOf(parseAuthorization('JWT h.h.h'), '/x?jwt=q.q.q')).toBe('ambiguous');
      expect(connectTokenOf(parseAuthorization('JWT h.h.h'), '/x?%6Awt=q.q.q')).toBe('ambiguous');
    });

    it('refuses two jwt parameters rather than choosing one', () => {
      expect(connectTokenOf(parseAuthorization(undefined), '/x?jwt=a.a.a&jwt=b.b.b')).toBe(
        'ambiguous',
      );
    });
  });

  describe('malformed headers', () => {
    it('refuses an array header (repeated Authorization) as malformed', () => {
      expect(parseAuthorization(['Bearer a', 'Bearer b']).scheme).toBe('malformed');
      expect(parseAuthorization(['Bearer a']).scheme).toBe('malformed');
    });

    it('refuses a header over 16 KiB as malformed', () => {
      const header = `Bearer ${'a'.repeat(16 * 1024)}`;

      expect(header.length).toBeGreaterThan(16 * 1024);
      expect(parseAuthorization(header).scheme).toBe('malformed');
    });

    it('accepts a header of exactly 16 KiB', () => {
      const token = 'a'.repeat(16 * 1024 - 'Bearer '.length);

      expect(parseAuthorization(`Bearer ${token}`)).toEqual({ scheme: 'bearer', token });
    });

    it('refuses a bare token over 16 KiB as malformed', () => {
      expect(parseAuthorization('a'.repeat(16 * 1024 + 1)).scheme).toBe('malformed');
    });

    it('gives a reason for every malformed result', () => {
      const result = parseAuthorization('Bearer a b');

      expect(result).toEqual({ scheme: 'malformed', reason: expect.any(String) });
    });
  });
});
