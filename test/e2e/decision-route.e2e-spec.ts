import { loggedLines } from '../support/log-lines';
import { AccessPipeline } from '../../src/restrictions/access-pipeline.service';
import { AccessGuard } from '../../src/restrictions/access.guard';
import { startApp, TestApp } from '../support/app';
import { login, newUser, TestUser } from '../support/factories';
import { bearer, http, HttpResult } from '../support/http';

/**
 * The decision endpoint is a plain Fastify handler (src/restrictions/decision.route.ts), not
 * Nest's route: it must answer as that route did, for every method, with the same problem
 * documents, headers and OpenAPI description.
 */
const decision = (
  t: TestApp,
  method: string,
  original: { method: string; uri: string },
  headers: Record<string, string> = {},
): Promise<HttpResult> =>
  http(`${t.url}/authz/decision`, {
    method,
    headers: {
      'x-original-method': original.method,
      'x-original-uri': original.uri,
      ...headers,
    },
  });

const ISSUE = { method: 'GET', uri: '/rest/api/2/issue/X-1' };

function expectSecurityHeaders(res: HttpResult): void {
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('content-security-policy')).toBe(
    "default-src 'none'; frame-ancestors 'none'",
  );
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('x-request-id')).toMatch(/^[\w.-]{1,64}$/);
}

describe('the decision endpoint as a plain Fastify route', () => {
  let t: TestApp;
  let user: TestUser;
  let token: string;
  const { logger, lines } = loggedLines('info');

  beforeAll(async () => {
    t = await startApp({ logger });
    user = await newUser(t);
    token = (await login(t, user)).authentication;
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => t?.close());

  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])(
    'answers %s with the allowed verdict: 200, X-Warden-* headers and the JSON body',
    async (method) => {
      const res = await decision(t, method, ISSUE, { authorization: bearer(token) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.body).toEqual({ decision: 'allow', user: user.username, authMethod: 'access' });
      expect(res.headers.get('x-warden-user')).toBe(user.username);
      expect(res.headers.get('x-warden-auth-method')).toBe('access');
      expectSecurityHeaders(res);
    },
  );

  it('answers HEAD with the status and headers, no body', async () => {
    const res = await decision(t, 'HEAD', ISSUE, { authorization: bearer(token) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-user')).toBe(user.username);
    expect(res.text).toBe('');
  });

  it('keeps an incoming request id and names it in the problem document', async () => {
    const res = await decision(t, 'GET', ISSUE, { 'x-request-id': 'proxy-req-42' });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toBe('proxy-req-42');
    expect(res.body.requestId).toBe('proxy-req-42');
  });

  it('goes through none of the Nest route machinery (the global guard is not asked)', async () => {
    const guard = jest.spyOn(AccessGuard.prototype, 'canActivate');
    expect((await decision(t, 'GET', ISSUE, { authorization: bearer(token) })).status).toBe(200);
    expect(guard).not.toHaveBeenCalled();
    // The same spy sees a Nest route: it would have seen the decision endpoint's.
    await http(`${t.url}/system/whoami`, { headers: { authorization: bearer(token) } });
    expect(guard).toHaveBeenCalled();
  });

  it('answers a denial with the same problem document as a protected route', async () => {
    // Warden's own token with its signature spoiled (anything not Warden's is the upstream's).
    const forged = bearer(`${token.slice(0, -4)}AAAA`);
    const atDecision = await decision(t, 'GET', ISSUE, { authorization: forged });
    const atRoute = await http(`${t.url}/system/whoami`, { headers: { authorization: forged } });
    expect(atDecision.status).toBe(401);
    expect(atDecision.status).toBe(atRoute.status);
    expect(atDecision.headers.get('content-type')).toBe(atRoute.headers.get('content-type'));
    expect(atDecision.headers.get('content-type')).toContain('application/problem+json');
    expect(Object.keys(atDecision.body).sort()).toEqual(Object.keys(atRoute.body).sort());
    const { requestId, ...rest } = atDecision.body;
    const { requestId: otherId, ...other } = atRoute.body;
    expect(rest).toEqual(other);
    expect(requestId).toBe(atDecision.headers.get('x-request-id'));
    expect(otherId).not.toBe(requestId);
    expect(atDecision.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expectSecurityHeaders(atDecision);
  });

  it('answers a question without the original request with its problem document', async () => {
    const res = await http(`${t.url}/authz/decision`, {
      headers: { authorization: bearer(token) },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 400, code: 'missing_original_request' });
  });

  it('answers an unexpected error with a bare 500 problem, no stack or message', async () => {
    const pipeline = t.app.get(AccessPipeline);
    jest.spyOn(pipeline, 'judge').mockImplementation(() => {
      throw new Error('secret internals at /srv/warden/pipeline.ts:12');
    });
    const res = await decision(t, 'POST', ISSUE, { authorization: bearer(token) });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toEqual({
      type: '/problems/internal_error',
      title: 'Internal Server Error',
      status: 500,
      code: 'internal_error',
      detail: 'The request could not be completed; quote the requestId when reporting it',
      requestId: res.headers.get('x-request-id'),
    });
    expect(res.text).not.toContain('secret internals');
    expect(res.text).not.toContain('pipeline.ts');
    expectSecurityHeaders(res);
    // The cause goes to the log, under the request id the caller was given.
    await new Promise((r) => setTimeout(r, 50));
    const logged = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.requestId === res.body.requestId || l.reqId === res.body.requestId);
    expect(JSON.stringify(logged)).toContain('secret internals at /srv/warden/pipeline.ts:12');
  });

  it('answers a rejected promise the same way', async () => {
    jest.spyOn(t.app.get(AccessPipeline), 'judge').mockRejectedValue(new Error('secret internals'));
    const res = await decision(t, 'GET', ISSUE, { authorization: bearer(token) });
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('internal_error');
    expect(res.text).not.toContain('secret internals');
  });

  it('is counted in the metrics under its route, as before', async () => {
    await decision(t, 'GET', ISSUE, { authorization: bearer(token) });
    const res = await http(`${t.url}/metrics`);
    expect(res.text).toMatch(
      /^warden_http_request_duration_seconds_count\{method="GET",route="\/authz\/decision",status="200"\} [1-9]/m,
    );
  });

  it('is still described in the OpenAPI document', async () => {
    const doc = (await http(`${t.url}/docs/openapi.json`)).body as {
      paths: Record<string, Record<string, { summary?: string; tags?: string[] }>>;
    };
    const path = doc.paths['/authz/decision'];
    expect(path).toBeDefined();
    expect(path.get.summary).toMatch(/reverse proxy/);
    expect(path.post.tags).toEqual(['decision endpoint']);
  });
});
