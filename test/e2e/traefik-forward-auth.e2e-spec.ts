import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { SettingsService } from '../../src/settings/settings.service';
import { DEFAULT_SETTINGS } from '../../src/settings/settings.defaults';
import { startApp, TestApp } from '../support/app';
import { login, newGroup, newUser, TestUser } from '../support/factories';
import { basic, bearer, http, HttpResult } from '../support/http';

/**
 * Traefik's ForwardAuth middleware, as Warden receives it: Traefik asks GET <address> with the
 * original request in X-Forwarded-Method / -Uri / -Host / -Proto / -For and the client's own
 * headers (Authorization among them); 2xx lets the request through (copying the
 * authResponseHeaders, X-Warden-* here), anything else goes back to the client as it is. No
 * Traefik runs here: the test plays its part and holds Warden to that contract.
 */

/** The decision as Traefik asks for it: always GET, the original request in the headers. */
function forwardAuth(
  t: TestApp,
  original: { method?: string; uri?: string; authorization?: string },
  extra: Record<string, string> = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = {
    'x-forwarded-host': 'api.example.test',
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '203.0.113.7',
    ...extra,
  };
  if (original.method !== undefined) headers['x-forwarded-method'] = original.method;
  if (original.uri !== undefined) headers['x-forwarded-uri'] = original.uri;
  if (original.authorization !== undefined) headers.authorization = original.authorization;
  return http(`${t.url}/authz/decision`, { method: 'GET', headers });
}

/** node:http with a chosen source address (fetch cannot): a peer that is not a trusted proxy. */
function getFrom(
  url: string,
  localAddress: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = /json/.test(res.headers['content-type'] ?? '') && text;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: json ? JSON.parse(text) : text,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function sessionOf(accessToken: string): string {
  return JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8')).sid;
}

const expectProblem = (res: HttpResult, status: number, code?: string) => {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(typeof res.body.code).toBe('string');
  if (code) expect(res.body.code).toBe(code);
  // A denial names nobody, so Traefik has nothing to copy on.
  expect(res.headers.get('x-warden-user')).toBeNull();
};

describe('Traefik ForwardAuth header contract at /authz/decision', () => {
  let t: TestApp;
  let group: string;
  let user: TestUser;
  let access: string;

  beforeAll(async () => {
    t = await startApp();
    group = await newGroup(t);
    user = await newUser(t, { groups: [group] });
    access = (await login(t, user)).authentication;
  });
  afterAll(async () => t?.close());

  /** Through the service as an operator would, so an allow-list cannot lock the test's admin out. */
  const configure = (patch: Record<string, unknown>) =>
    t.app.get(SettingsService).patch(patch, {
      ifMatch: '*',
      force: true,
      actor: { username: 'traefik-e2e' },
    });
  afterEach(async () => {
    const { groups, ip, bypass, publicApis, rateLimit, nativeOAuthTokens } = DEFAULT_SETTINGS;
    await configure({ groups, ip, bypass, publicApis, rateLimit, nativeOAuthTokens });
  });

  it('a valid token: 200 with the X-Warden-* headers Traefik copies to the API; none: 401', async () => {
    const res = await forwardAuth(t, {
      method: 'GET',
      uri: '/rest/api/2/issue/X-1?expand=names',
      authorization: bearer(access),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-user')).toBe(user.username);
    expect(res.headers.get('x-warden-groups')).toBe(group);
    expect(res.headers.get('x-warden-auth-method')).toBe('access');
    expect(res.headers.get('x-warden-credential-id')).toBe(sessionOf(access));
    expect(res.headers.get('ratelimit-limit')).toBe(String(DEFAULT_SETTINGS.rateLimit.requests));
    expect(res.body).toMatchObject({
      decision: 'allow',
      user: user.username,
      authMethod: 'access',
    });

    const none = await forwardAuth(t, { method: 'GET', uri: '/rest/api/2/issue/X-1' });
    expectProblem(none, 401, 'authentication_required');
    expect(none.headers.get('www-authenticate')).toMatch(/Bearer/);
  });

  it('a personal API token and Basic are judged the same way; a wrong password is 401', async () => {
    const created = await http(`${t.url}/tokens`, {
      method: 'POST',
      headers: { authorization: basic(user.username, user.password) },
      json: { name: 'traefik' },
    });
    expect(created.status).toBe(201);
    const viaToken = await forwardAuth(t, {
      method: 'POST',
      uri: '/x',
      authorization: bearer(created.body.token),
    });
    expect(viaToken.status).toBe(200);
    expect(viaToken.headers.get('x-warden-user')).toBe(user.username);
    expect(viaToken.headers.get('x-warden-auth-method')).toBe('api-token');
    expect(viaToken.headers.get('x-warden-credential-id')).toBe(created.body.id);

    const viaBasic = await forwardAuth(t, {
      method: 'GET',
      uri: '/x',
      authorization: basic(user.username, user.password),
    });
    expect(viaBasic.status).toBe(200);
    expect(viaBasic.headers.get('x-warden-auth-method')).toBe('basic');

    expectProblem(
      await forwardAuth(t, {
        method: 'GET',
        uri: '/x',
        authorization: basic(user.username, 'wrong'),
      }),
      401,
    );
  });

  it('the method judged is X-Forwarded-Method, not the (always GET) decision request', async () => {
    const readers = await newGroup(t);
    const reader = await login(t, await newUser(t, { groups: [readers] }));
    await configure({ groups: { readOnly: [readers] } });

    const get = await forwardAuth(t, {
      method: 'GET',
      uri: '/rest/api/2/issue/X-1',
      authorization: bearer(reader.authentication),
    });
    expect(get.status).toBe(200);
    const del = await forwardAuth(t, {
      method: 'DELETE',
      uri: '/rest/api/2/issue/X-1',
      authorization: bearer(reader.authentication),
    });
    expectProblem(del, 403, 'read_only_group');
    // Lower case as some proxies write it is the same method.
    expectProblem(
      await forwardAuth(t, {
        method: 'delete',
        uri: '/rest/api/2/issue/X-1',
        authorization: bearer(reader.authentication),
      }),
      403,
      'read_only_group',
    );
    // Someone outside the read-only group may DELETE.
    const other = await forwardAuth(t, {
      method: 'DELETE',
      uri: '/rest/api/2/issue/X-1',
      authorization: bearer(access),
    });
    expect(other.status).toBe(200);
  });

  it('a missing or malformed original request is a 400 problem, not a decision', async () => {
    const auth = bearer(access);
    expectProblem(
      await forwardAuth(t, { method: 'GET', authorization: auth }),
      400,
      'missing_original_request',
    );
    expectProblem(
      await forwardAuth(t, { uri: '/x', authorization: auth }),
      400,
      'missing_original_request',
    );
    expectProblem(
      await forwardAuth(t, { method: 'GET', uri: 'x', authorization: auth }),
      400,
      'invalid_original_request',
    );
    expectProblem(
      await forwardAuth(t, { method: 'GET', uri: 'http://elsewhere/x', authorization: auth }),
      400,
      'invalid_original_request',
    );
    expectProblem(
      await forwardAuth(t, { method: 'G E T', uri: '/x', authorization: auth }),
      400,
      'invalid_original_request',
    );
    // Control: the same request, complete, is judged.
    expect((await forwardAuth(t, { method: 'GET', uri: '/x', authorization: auth })).status).toBe(
      200,
    );
  });

  it('path traversal does not reach a bypass path: dot segments are resolved before matching', async () => {
    await configure({ bypass: { paths: ['/public/**'] } });
    expect((await forwardAuth(t, { method: 'GET', uri: '/public/health' })).status).toBe(200);
    expect((await forwardAuth(t, { method: 'GET', uri: '/public/a/b?x=../../admin' })).status).toBe(
      200,
    );
    for (const uri of [
      '/public/../admin',
      '/public/./../admin',
      '/public/%2e%2e/admin',
      '/public/..',
    ]) {
      const res = await forwardAuth(t, { method: 'GET', uri });
      expectProblem(res, 401, 'authentication_required');
    }
    // Resolved paths that stay inside the bypass are still bypassed.
    expect((await forwardAuth(t, { method: 'GET', uri: '/public/a/../health' })).status).toBe(200);
  });

  it('path parameters are dropped before judging, as Tomcat (Jira, Confluence) drops them', async () => {
    await configure({ bypass: { paths: ['/public/**'] } });
    // Tomcat serves each of these as /admin.
    for (const uri of [
      '/public/..;/admin',
      '/public/..;jsessionid=x/admin',
      '/public/%2e%2e;/admin',
      '/public;x/../admin',
      '/public/.;/..;/admin',
    ]) {
      const res = await forwardAuth(t, { method: 'GET', uri });
      expectProblem(res, 401, 'authentication_required');
    }
    // …and these as paths under /public/.
    for (const uri of ['/public;jsessionid=abc/health', '/public/a;v=1/b', '/public/x;']) {
      expect((await forwardAuth(t, { method: 'GET', uri })).status).toBe(200);
    }
  });

  it('a path beginning with // is a path, not a scheme-relative URL whose first segment is dropped', async () => {
    await configure({ bypass: { paths: ['/public/**'] } });
    // Control: the bypass path itself, and a protected path that merely contains it.
    expect((await forwardAuth(t, { method: 'GET', uri: '/public/x' })).status).toBe(200);
    expectProblem(await forwardAuth(t, { method: 'GET', uri: '/admin/public/x' }), 401);
    // The upstream receives //admin/public/x (an upstream that merges slashes serves
    // /admin/public/x): it is not under /public/, so it must not be let through unauthenticated.
    const res = await forwardAuth(t, { method: 'GET', uri: '//admin/public/x' });
    expect([400, 401]).toContain(res.status);
  });

  it('an encoded slash or backslash in the path is refused with 400', async () => {
    await configure({ bypass: { paths: ['/public/**'] } });
    for (const uri of [
      '/public%2F..%2Fadmin',
      '/public/..%2fadmin',
      '/public/..%5Cadmin',
      '/public/..\\admin',
    ]) {
      const res = await forwardAuth(t, { method: 'GET', uri, authorization: bearer(access) });
      expectProblem(res, 400, 'invalid_original_request');
    }
    // An encoded slash in the query string is data, not a path separator.
    expect((await forwardAuth(t, { method: 'GET', uri: '/public/search?q=a%2Fb' })).status).toBe(
      200,
    );
  });

  it('a target servers read differently is only as open as its least open reading', async () => {
    await configure({ bypass: { paths: ['/public/**'] } });
    for (const uri of [
      // nginx (merge_slashes), Tomcat and Go merge `//` before resolving `..`: they serve /admin;
      // a URL parser keeps the empty segment and resolves to a path under /public/.
      '/public//../admin',
      '/public/x//../../admin',
      '/public//%2e%2e/admin',
      // Only Tomcat drops parameters: to any other upstream these are paths under /admin/.
      '/admin/..;/public/x',
      '/admin/..;v=1/public/x',
      '/admin/.;/../public/x',
    ]) {
      const res = await forwardAuth(t, { method: 'GET', uri });
      expectProblem(res, 401, 'authentication_required');
    }
    // A `*` matches an empty segment: `//health` is `/*/health`, but nginx serves `/health`.
    await configure({ bypass: { paths: ['/public/**', '/*/health'] } });
    expectProblem(await forwardAuth(t, { method: 'GET', uri: '//health' }), 401);
    expect((await forwardAuth(t, { method: 'GET', uri: '/api/health' })).status).toBe(200);
    // Controls: where every reading stays under /public/, the bypass holds.
    for (const uri of ['/public/a//b/../c', '/public/a/b;v=1/../c', '/public/x/../y']) {
      expect((await forwardAuth(t, { method: 'GET', uri })).status).toBe(200);
    }
    // A signed-in caller is judged as always, whatever the reading.
    const res = await forwardAuth(t, {
      method: 'GET',
      uri: '/admin/..;/public/x',
      authorization: bearer(access),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-user')).toBe(user.username);
  });

  it('a control character in the original URI or method is refused with 400, not dropped', async () => {
    await configure({ bypass: { paths: ['/public/**'] } });
    // A URL parser drops the TAB: `/admin/..<TAB>/public/x` would be judged as `/public/x`.
    // C1 controls arrive as latin1 characters of the header value.
    for (const uri of ['/admin/..\t/public/x', '/admin/..\u0085/public/x', '/public/x\u009b']) {
      expectProblem(await forwardAuth(t, { method: 'GET', uri }), 400, 'invalid_original_request');
      const nginx = await http(`${t.url}/authz/decision`, {
        headers: { 'x-original-method': 'GET', 'x-original-uri': uri },
      });
      expectProblem(nginx, 400, 'invalid_original_request');
    }
    for (const method of ['GE\tT', 'GET\u0085'])
      expectProblem(
        await forwardAuth(t, { method, uri: '/public/x' }),
        400,
        'invalid_original_request',
      );
    // Control: without the TAB, the same path is the bypass path or a protected one.
    expect((await forwardAuth(t, { method: 'GET', uri: '/admin/../public/x' })).status).toBe(200);
    expectProblem(await forwardAuth(t, { method: 'GET', uri: '/admin/x' }), 401);
  });

  it('a # in the original URI is refused with 400: nginx would end the path there', async () => {
    await configure({ bypass: { paths: ['/**/health'] } });
    for (const uri of ['/admin#/health', '/admin/x#', '/health?x=1#/y']) {
      const res = await forwardAuth(t, { method: 'GET', uri, authorization: bearer(access) });
      expectProblem(res, 400, 'invalid_original_request');
    }
    // Control: the bypass itself.
    expect((await forwardAuth(t, { method: 'GET', uri: '/admin/health' })).status).toBe(200);
  });

  it('nativeOAuthTokens.allowed: an upstream bearer passes as native with nobody named; off: 401', async () => {
    const res = await forwardAuth(t, {
      method: 'GET',
      uri: '/rest/api/2/myself',
      authorization: 'Bearer opaque-upstream-token',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-auth-method')).toBe('native');
    expect(res.headers.get('x-warden-user')).toBeNull();
    expect(res.headers.get('x-warden-groups')).toBeNull();
    expect(res.headers.get('x-warden-credential-id')).toBeNull();

    await configure({ nativeOAuthTokens: { allowed: false } });
    const off = await forwardAuth(t, {
      method: 'GET',
      uri: '/rest/api/2/myself',
      authorization: 'Bearer opaque-upstream-token',
    });
    expectProblem(off, 401);
    expect(off.headers.get('x-warden-auth-method')).toBeNull();
  });

  it('X-Forwarded-For names the client when Traefik is a trusted proxy, and only then', async () => {
    await configure({ ip: { allow: ['203.0.113.0/24'] } });
    const auth = bearer(access);
    // The test client is 127.0.0.1, a trusted proxy by default: it plays Traefik.
    expect((await forwardAuth(t, { method: 'GET', uri: '/x', authorization: auth })).status).toBe(
      200,
    );
    expectProblem(
      await forwardAuth(
        t,
        { method: 'GET', uri: '/x', authorization: auth },
        { 'x-forwarded-for': '198.51.100.9' },
      ),
      403,
      'ip_not_allowed',
    );
    // A client's own claim on the left is not believed: the right-most untrusted entry counts.
    expectProblem(
      await forwardAuth(
        t,
        { method: 'GET', uri: '/x', authorization: auth },
        { 'x-forwarded-for': '203.0.113.7, 198.51.100.9' },
      ),
      403,
      'ip_not_allowed',
    );
    // From a peer that is not a trusted proxy (127.0.0.2) the header is ignored altogether.
    const headers = {
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/x',
      'x-forwarded-for': '203.0.113.7',
      authorization: auth,
    };
    const untrusted = await getFrom(`${t.url}/authz/decision`, '127.0.0.2', headers);
    expect(untrusted.status).toBe(403);
    expect(untrusted.body.code).toBe('ip_not_allowed');
    await configure({ ip: { allow: ['127.0.0.2/32'] } });
    expect((await getFrom(`${t.url}/authz/decision`, '127.0.0.2', headers)).status).toBe(200);
  });

  it('refuses a question carrying both header pairs: one of them came from the client', async () => {
    const res = await http(`${t.url}/authz/decision`, {
      headers: {
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/x',
        'x-original-method': 'GET',
        'x-original-uri': '/public/status',
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('ambiguous_original_request');
  });

  it('refuses an original URI sent twice: the two requests it names cannot both be judged', async () => {
    const headers = new Headers({ 'x-original-method': 'GET', authorization: bearer(access) });
    headers.append('x-original-uri', '/public/status');
    headers.append('x-original-uri', '/admin/x');
    const res = await http(`${t.url}/authz/decision`, { headers });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_original_request');
  });
});
