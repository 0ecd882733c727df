import { once } from 'node:events';
import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { CLOSING_RETRY_AFTER_SECONDS } from '../../src/http/shutdown';
import { loadConfig } from '../../src/config/load-config';
import { startApp, TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A raw request, so that headers and paths fetch would refuse or rewrite can be sent. */
function raw(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The headers every JSON answer carries, whoever built it (see security-headers.ts). */
function expectApiHeaders(get: (name: string) => string | string[] | null | undefined): void {
  expect(get('x-content-type-options')).toBe('nosniff');
  // JSON is never rendered: it may load nothing and be framed by nobody.
  expect(get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
  expect(get('strict-transport-security')).toMatch(/max-age=\d+/);
  expect(get('referrer-policy')).toBe('no-referrer');
  expect(get('cross-origin-resource-policy')).toBe('same-origin');
  expect(get('x-powered-by') ?? null).toBeNull();
}

describe('HTTP hardening: security headers, CORS, header size', () => {
  let t: TestApp;
  let withCors: TestApp;

  beforeAll(async () => {
    t = await startApp();
    withCors = await startApp({ env: { WARDEN_CORS_ORIGINS: 'https://app.example.test' } });
  });
  afterAll(async () => {
    await withCors?.close();
    await t?.close();
  });

  it('sends security headers on API answers, errors and the explorer', async () => {
    const answers = [
      await http(`${t.url}/system/whoami`, { headers: { authorization: adminAuth() } }),
      await http(`${t.url}/system/whoami`),
      await http(`${t.url}/no/such/route`),
    ];
    for (const res of answers) {
      expectApiHeaders((name) => res.headers.get(name));
      expect(res.headers.get('x-request-id')).toMatch(/^[\w.-]{1,64}$/);
    }
    const docs = await http(`${t.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('x-content-type-options')).toBe('nosniff');
    expect(docs.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const policy = docs.headers.get('content-security-policy')!;
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    // The explorer's page loads its scripts from this origin only: no inline script to block.
    expect(docs.text).not.toMatch(/<script>(?!\s*<\/script>)/);
  });

  it('answers no cross-origin request unless origins are configured', async () => {
    const preflight = (app: TestApp) =>
      http(`${app.url}/system/whoami`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.test',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    expect((await preflight(t)).headers.get('access-control-allow-origin')).toBeNull();
    const allowed = await preflight(withCors);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    const other = await http(`${withCors.url}/system/whoami`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.test', 'access-control-request-method': 'GET' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses oversized headers with 431, a problem document with the usual headers', async () => {
    const res = await raw(`${t.url}/system/whoami`, { 'x-padding': 'a'.repeat(20_000) });
    expect(res.status).toBe(431);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expectApiHeaders((name) => res.headers[name]);
    // Refused before any request object exists: the id is a fresh one, the same in body and header.
    expect(JSON.parse(res.text)).toMatchObject({
      status: 431,
      code: 'headers_too_large',
      requestId: res.headers['x-request-id'],
    });
  });

  it.each([
    ['a bad percent-encoding', '/admin/users/%E0%A4%A', 400, 'bad_url'],
    [
      'a path parameter over the length limit',
      `/admin/users/${'a'.repeat(600)}`,
      414,
      'uri_too_long',
    ],
  ])(
    'answers %s (refused by the router) with the usual headers and the request id',
    async (_what, path, status, code) => {
      const res = await raw(`${t.url}${path}`, {
        authorization: adminAuth(),
        'x-request-id': `router-${status}`,
      });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expectApiHeaders((name) => res.headers[name]);
      expect(res.headers['x-request-id']).toBe(`router-${status}`);
      expect(JSON.parse(res.text)).toMatchObject({ status, code, requestId: `router-${status}` });
    },
  );

  it('refuses a configuration that names something other than an origin', () => {
    expect(() =>
      loadConfig({ ...t.env, WARDEN_CORS_ORIGINS: 'https://ok.example, https://x.example/path' }),
    ).toThrow(/WARDEN_CORS_ORIGINS/);
  });
});

describe('HTTP hardening: a request that arrives while the instance shuts down', () => {
  let t: TestApp | undefined;

  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('gets a 503 problem with Retry-After, the usual headers and its request id, and the connection is closed', async () => {
    const app = t!;
    t = undefined;
    const port = Number(new URL(app.url).port);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const ended = once(socket, 'close');
    // Headers begun but not finished: the connection is busy, so closing the server neither
    // drops it as idle nor waits for anything but this request.
    socket.write(
      'GET /system/whoami HTTP/1.1\r\nHost: warden.test\r\nX-Request-Id: while-closing\r\n',
    );
    const closed = app.close();
    const server = app.app.getHttpServer();
    expect(
      await eventually(
        async () => server.listening,
        (listening) => !listening,
      ),
    ).toBe(false);
    socket.write('\r\n');
    await ended;
    await closed;

    const [head, body] = received.split('\r\n\r\n', 2);
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = new Map(
      lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    expect(statusLine).toBe('HTTP/1.1 503 Service Unavailable');
    expect(headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(headers.get('retry-after')).toBe(String(CLOSING_RETRY_AFTER_SECONDS));
    expect(headers.get('connection')).toBe('close');
    expect(headers.get('x-request-id')).toBe('while-closing');
    expectApiHeaders((name) => headers.get(name));
    expect(JSON.parse(body)).toMatchObject({
      status: 503,
      code: 'shutting_down',
      requestId: 'while-closing',
    });
  });
});
