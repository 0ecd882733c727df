import fc from 'fast-check';
import { createHash, createSecretKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Clock } from '../common/clock';
import { sign as signJwt, verify as verifyJwt } from 'jsonwebtoken';
import { StrategyRunner } from '../auth/strategies/strategy-runner';
import { decodeJws, JwtError } from '../common/jwt/jws';
import { Principal } from '../common/principal';
import { WardenConfig } from '../config/warden-config';
import { ConnectJwtService, ConnectTarget } from './connect-jwt.service';
import { ConnectJwtStrategy } from './strategies/connect-jwt.strategy';
import { canonicalPath, canonicalRequest, qshOf } from './qsh';
import { LiveTenant, TenantDirectory } from './tenants/tenant-directory.service';

/** Atlassian's interoperability vectors (test/fixtures/README.md). */
const interop = JSON.parse(
  readFileSync(join(__dirname, '../../test/fixtures/connect-jwt-interop.json'), 'utf8'),
) as { secret: string; tests: { name: string; canonicalUrl: string; signedUrl: string }[] };

const NOW = 1_800_000_000_000;
const clock = { now: () => NOW } as Clock;
const secret = createSecretKey(Buffer.from(interop.secret, 'utf8'));
const CLIENT_KEY = 'jira:1234-5678-9000';

/** The `connect` strategy over a tenant directory of one; resolves with the principal. */
function verifierWith(tenant: Partial<LiveTenant> = {}, baseUrl = 'https://example.com') {
  const live: LiveTenant = {
    clientKey: CLIENT_KEY,
    baseUrl: 'https://tenant.example.net',
    displayUrl: null,
    productType: 'jira',
    oauthClientId: null,
    active: true,
    secret,
    ...tenant,
  };
  const directory = { get: (key: string) => (key === live.clientKey ? live : undefined) };
  const config = {
    baseUrl,
    connect: { keysUrl: 'http://127.0.0.1:9', keysFallbackUrl: '' },
  } as unknown as WardenConfig;
  const service = new ConnectJwtService(directory as unknown as TenantDirectory, clock, config);
  const runner = new StrategyRunner();
  runner.register('connect', new ConnectJwtStrategy(service));
  /** The token goes in the header, unless the target already carries it as `?jwt=`. */
  return (token: string, target: ConnectTarget, allowContext: boolean) =>
    runner.run<Principal>('connect', {
      headers: target.url.includes('jwt=') ? {} : { authorization: `JWT ${token}` },
      ip: '127.0.0.1',
      target,
      connectContext: allowContext,
    });
}

function sign(qsh: string, extra: Record<string, unknown> = {}): string {
  const iat = Math.floor(NOW / 1000);
  return signJwt({ iss: CLIENT_KEY, iat, exp: iat + 180, qsh, ...extra }, secret, {
    algorithm: 'HS256',
  });
}

/** Origin form (path and query) of an absolute URL, exactly as sent: no re-encoding. */
function target(absolute: string): string {
  return absolute.slice(absolute.indexOf('/', absolute.indexOf('//') + 2));
}

describe('qsh: Atlassian interop vectors', () => {
  it('has the vectors', () => {
    expect(interop.tests.length).toBe(78);
  });

  describe.each(interop.tests.map((t) => [t.name, t] as const))('%s', (_name, vector) => {
    const url = target(vector.signedUrl);
    const token = new URL(vector.signedUrl).searchParams.get('jwt')!;

    it('builds the canonical request Atlassian built', () => {
      expect(canonicalRequest('GET', url)).toBe(vector.canonicalUrl);
    });

    it('hashes it to the qsh Atlassian signed (with a signature that verifies)', () => {
      const decoded = decodeJws(token);
      expect(() =>
        verifyJwt(token, secret, { algorithms: ['HS256'], ignoreExpiration: true }),
      ).not.toThrow();
      expect(qshOf('GET', url)).toBe(decoded.payload.qsh);
      expect(createHash('sha256').update(vector.canonicalUrl).digest('hex')).toBe(
        decoded.payload.qsh,
      );
    });

    it('passes the full verification once re-signed with the secret, and only for its request', async () => {
      const verify = verifierWith();
      const fresh = sign(decodeJws(token).payload.qsh as string);
      // The signed URL carries its token as `jwt=`, which the qsh leaves out: the fresh one takes its place.
      const freshUrl = url.replace(token, fresh);
      const principal = await verify(fresh, { method: 'GET', url: freshUrl }, false);
      expect(principal.tenant).toBe(CLIENT_KEY);
      await expect(verify(fresh, { method: 'POST', url: freshUrl }, false)).rejects.toThrow(/qsh/);
      await expect(
        verify(fresh, { method: 'GET', url: freshUrl.replace('/', '/x') }, false),
      ).rejects.toThrow(/qsh/);
    });
  });

  it('refuses the original tokens: they expired in 2016', async () => {
    const vector = interop.tests[0];
    await expect(
      verifierWith()('', { method: 'GET', url: target(vector.signedUrl) }, false),
    ).rejects.toThrow(expect.objectContaining({ reason: 'expired' }));
  });
});

describe('canonical path', () => {
  it.each([
    ['/', '', '/'],
    ['', '', '/'],
    ['/a/b/', '', '/a/b'],
    ['/a//', '', '/a'],
    ['/wiki/rest/x', '/wiki', '/rest/x'],
    ['/wiki', '/wiki', '/'],
    ['/wiki/', '/wiki/', '/'],
    ['/wikipedia/x', '/wiki', '/wikipedia/x'],
    ['/a&b', '', '/a%26b'],
    ['/a%20b', '', '/a%20b'],
  ])('%s under %s is %s', (path, context, expected) => {
    expect(canonicalPath(path, context)).toBe(expected);
  });

  it('is relative to the context path of WARDEN_BASE_URL', async () => {
    const verify = verifierWith({}, 'https://apps.example.com/warden');
    const token = sign(qshOf('GET', '/connect/whoami'));
    const principal = await verify(token, { method: 'GET', url: '/warden/connect/whoami' }, false);
    expect(principal.tenant).toBe(CLIENT_KEY);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: a reference canonicalisation written independently of qsh.ts (URLSearchParams to
// decode, byte-wise RFC 3986 encoding), random queries with repeated keys, unicode, '+', '%20',
// '*', '~', empty values and valueless keys.

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function referenceEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out +=
      byte < 0x80 && UNRESERVED.test(c)
        ? c
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function referenceCanonical(method: string, url: string): string {
  const [path, query = ''] = url.split(/\?(.*)/s);
  const grouped = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(query)) {
    if (name !== 'jwt') grouped.set(name, [...(grouped.get(name) ?? []), value]);
  }
  const canonicalQuery = [...grouped.keys()]
    .sort()
    .map((k) => `${referenceEncode(k)}=${grouped.get(k)!.sort().map(referenceEncode).join(',')}`)
    .join('&');
  const canonicalPath = (path.replace(/\/+$/, '') || '/').split('&').join('%26');
  return `${method.toUpperCase()}&${canonicalPath}&${canonicalQuery}`;
}

/** How clients write a character on the wire: `+` or `%20` for space, `*` and `~` either way. */
const wireEncode = (value: string, spaceAsPlus: boolean, rawSpecials: boolean) =>
  encodeURIComponent(value)
    .replace(/%20/g, spaceAsPlus ? '+' : '%20')
    .replace(/[*~]/g, (c) => (rawSpecials ? c : `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .replace(/[!'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const text = fc.oneof(
  fc.constantFrom('', ' ', '+', '*', '~', '%20', '%', '&', '=', ',', 'a b', '宮崎 駿', '😀', 'ß'),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
);
// A small pool of names makes repeated keys common.
const name = fc
  .oneof(fc.constantFrom('a', 'A', 'b', 'ids', 'q w', '*', '~x', '宮'), text)
  .filter((n) => n !== '' && n !== 'jwt');
const param = fc.record({
  name,
  value: fc.option(text, { nil: undefined }), // undefined: a key with no `=`
  spaceAsPlus: fc.boolean(),
  rawSpecials: fc.boolean(),
});
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'get'),
  path: fc.constantFrom('/', '/rest/api/3/issue', '/a/b/', '/search-view', '/x&y'),
  params: fc.array(param, { maxLength: 8 }),
});

type Param = { name: string; value?: string; spaceAsPlus: boolean; rawSpecials: boolean };

function urlOf(path: string, params: Param[]): string {
  if (params.length === 0) return path;
  const query = params
    .map((p) => {
      const n = wireEncode(p.name, p.spaceAsPlus, p.rawSpecials);
      return p.value === undefined
        ? n
        : `${n}=${wireEncode(p.value, p.spaceAsPlus, p.rawSpecials)}`;
    })
    .join('&');
  return `${path}?${query}`;
}

describe('qsh properties', () => {
  const verify = verifierWith();

  it('matches the reference canonical request for any query', () => {
    fc.assert(
      fc.property(request, ({ method, path, params }) => {
        const url = urlOf(path, params);
        expect(canonicalRequest(method, url)).toBe(referenceCanonical(method, url));
      }),
      { numRuns: 500 },
    );
  });

  it('a token signed over the request verifies, with a jwt parameter or without', async () => {
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, params }) => {
        const url = urlOf(path, params);
        const token = sign(qshOf(method, url));
        expect((await verify(token, { method, url }, false)).connect?.context).toBe(false);
        const withJwt = `${url}${url.includes('?') ? '&' : '?'}jwt=${token}`;
        expect((await verify(token, { method, url: withJwt }, false)).connect?.context).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('any change to method, path or a parameter fails verification', async () => {
    const mutation = fc.oneof(
      fc.constant('method' as const),
      fc.constant('path' as const),
      fc.constant('add' as const),
      fc.constant('drop' as const),
      fc.constant('value' as const),
      fc.constant('name' as const),
    );
    await fc.assert(
      fc.asyncProperty(
        request,
        mutation,
        fc.nat(),
        async ({ method, path, params }, change, pick) => {
          const url = urlOf(path, params);
          const token = sign(qshOf(method, url));
          let m = method;
          let p: string = path;
          let changed = params.map((x) => ({ ...x }));
          const i = params.length > 0 ? pick % params.length : -1;
          switch (change) {
            case 'method':
              m = method.toUpperCase() === 'GET' ? 'POST' : 'GET';
              break;
            case 'path':
              p = `${path.replace(/\/+$/, '')}/more`;
              break;
            case 'add':
              changed.push({ name: 'added', value: '1', spaceAsPlus: false, rawSpecials: false });
              break;
            case 'drop':
              if (i < 0) return;
              changed = changed.filter((_, j) => j !== i);
              break;
            case 'value':
              if (i < 0) return;
              changed[i].value = `${changed[i].value ?? ''}x`;
              break;
            case 'name':
              if (i < 0) return;
              changed[i].name = `${changed[i].name}x`;
              break;
          }
          await expect(verify(token, { method: m, url: urlOf(p, changed) }, false)).rejects.toThrow(
            JwtError,
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
