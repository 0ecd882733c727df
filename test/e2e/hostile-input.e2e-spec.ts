import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { startApp, TestApp } from '../support/app';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';

interface Operation {
  method: string;
  path: string;
}

interface Reply {
  status: number;
  type: string;
  text: string;
}

/** A raw request: any method, any header value, any body bytes, as a hostile client sends them. */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // A connection per request: a reused keep-alive socket the server closed after an error
    // answer would fail on the client side, which is not what is tested here.
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const STACK = /at .*\.(ts|js):\d+|node_modules|Error: /;

describe('hostile input on every route', () => {
  let t: TestApp;
  let operations: Operation[] = [];

  beforeAll(async () => {
    t = await startApp();
    const doc = (await http(`${t.url}/docs/openapi.json`)).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
  });
  afterAll(async () => t?.close());

  it('covers the documented routes', () => {
    expect(operations.length).toBeGreaterThan(40);
  });

  const segment = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom(
      '..',
      '%',
      '%00',
      '%2e%2e',
      'a'.repeat(600),
      "' OR 1=1 --",
      '${jndi:x}',
      '\u0000',
    ),
  );
  const authorization = fc.oneof(
    fc.constant(undefined),
    fc.constant(adminAuth()),
    fc.constantFrom('Bearer ', 'Basic ', 'JWT ', 'APIToken wdn_', 'Bearer a.b.c', 'Basic Og=='),
    fc.string({ unit: 'grapheme-ascii', maxLength: 200 }).map((s) => `Bearer ${s}`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 200 }).map((s) => `JWT ${s}`),
    fc.base64String({ maxLength: 200 }).map((s) => `Basic ${s}`),
  );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 300 }),
    fc.constantFrom(
      '{',
      '[1,',
      '{"__proto__": {"admin": true}}',
      '{"constructor": {"prototype": {}}}',
      'null',
    ),
    fc.nat({ max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  );

  it('never answers a 5xx or a stack trace, whatever the path, method, headers and body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(segment, { minLength: 1, maxLength: 3 }),
        authorization,
        body,
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=utf-16',
        ),
        fc.dictionary(
          fc.constantFrom(
            'x-original-uri',
            'x-original-method',
            'x-forwarded-uri',
            'x-forwarded-method',
            'x-forwarded-for',
            'if-match',
            'cookie',
          ),
          fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
        ),
        async (pick, params, auth, payload, contentType, extra) => {
          const op = operations[pick % operations.length];
          let i = 0;
          const path = op.path.replace(/\{[^}]+\}/g, () =>
            encodeURIComponent(params[i++ % params.length]),
          );
          const query = params.map((p, n) => `q${n}=${encodeURIComponent(p)}`).join('&');
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(extra)) if (/^[\x20-\x7e]*$/.test(v)) headers[k] = v;
          if (auth !== undefined) headers.authorization = auth;
          if (payload !== undefined) headers['content-type'] = contentType;
          const method = op.method;
          const res = await send(
            `${t.url}${path}?${query}`,
            method,
            headers,
            method === 'GET' || method === 'HEAD' ? undefined : payload,
          );
          expect({ op: `${method} ${op.path}`, status: res.status < 500 }).toEqual({
            op: `${method} ${op.path}`,
            status: true,
          });
          if (res.status >= 400 && method !== 'HEAD') {
            expect(res.type).toMatch(/application\/problem\+json/);
            expect(res.text).not.toMatch(STACK);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses deeply nested JSON with a 400, before parsing it', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const res = await send(
      `${t.url}/system/auth`,
      'POST',
      { 'content-type': 'application/json' },
      deep,
    );
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/application\/problem\+json/);
    const shallow = JSON.stringify({ username: 'nobody', password: 'x' });
    expect(
      (await send(`${t.url}/system/auth`, 'POST', { 'content-type': 'application/json' }, shallow))
        .status,
    ).toBe(401);
  });

  it('refuses prototype poisoning in JSON bodies', async () => {
    const res = await send(
      `${t.url}/system/auth`,
      'POST',
      { 'content-type': 'application/json' },
      '{"username": "a", "password": "b", "__proto__": {"isAdmin": true}}',
    );
    expect(res.status).toBe(400);
  });
});
