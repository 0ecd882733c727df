import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AuditWriter } from '../../src/audit/audit-writer.service';
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

/** Requests that warm the server up (code compiled, bounded caches and metric series filled)… */
const WARM_UP_RUNS = 400;
/** …then three times as many, after which the heap may have grown by less than this. */
const MEASURED_RUNS = 1200;
/**
 * About 1.7 KB per measured request: a server keeping anything per request (the request, its
 * body, its headers, an audit row) grows by more. What still grows once warm is V8's own (code
 * optimised late, feedback; a heap snapshot's collection frees it, a plain one does not): up to
 * about 1.3 MB over the measured batch.
 */
const MAX_HEAP_GROWTH_BYTES = 2 * 1024 * 1024;

/** Node's collector, reachable without starting Jest with --expose-gc. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

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
  /**
   * Percent-encodings a decoder must refuse or handle with care, written into the path as they
   * are: a lone or truncated escape, non-hex digits, overlong UTF-8 for "/" and NUL, a UTF-16
   * surrogate, a byte that is never UTF-8, an encoded NUL.
   */
  const badEncoding = fc.constantFrom(
    '%',
    '%%',
    '%2',
    'a%',
    '%G1',
    '%ZZ',
    '%C0%AF',
    '%E0%80%AF',
    '%C0%80',
    '%ED%A0%80',
    '%FF',
    '%F0%9F%98',
    '%00',
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

  const property = () =>
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
      // One request in four carries one.
      fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.tuple(fc.nat(), badEncoding) },
      ),
      async (pick, params, auth, payload, contentType, extra, bad) => {
        const op = operations[pick % operations.length];
        let i = 0;
        let path = op.path.replace(/\{[^}]+\}/g, () =>
          encodeURIComponent(params[i++ % params.length]),
        );
        if (bad) {
          // Appended, undecoded, to one of the path's segments (a parameter or a fixed one).
          const segments = path.split('/');
          const at = 1 + (bad[0] % (segments.length - 1));
          segments[at] += bad[1];
          path = segments.join('/');
        }
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
    );

  it('never answers a 5xx or a stack trace, whatever the path, method, headers and body', async () => {
    await fc.assert(property(), { numRuns: 400 });
  });

  it('keeps nothing per request: the heap grows by less than a small bound over a second, larger batch', async () => {
    const gc = collector();
    const settledHeap = async () => {
      // Rows still buffered are written first: the buffer is bounded, but not what is measured.
      await t.app.get(AuditWriter).flush();
      for (let n = 0; n < 3; n++) {
        gc();
        await new Promise((r) => setImmediate(r));
      }
      return process.memoryUsage().heapUsed;
    };
    await fc.assert(property(), { numRuns: WARM_UP_RUNS });
    const before = await settledHeap();
    // Each measured request as the server received it, held weakly: none may outlive its answer.
    const received: WeakRef<object>[] = [];
    const track = (request: object) => received.push(new WeakRef(request));
    const server = t.app.getHttpServer();
    server.on('request', track);
    try {
      await fc.assert(property(), { numRuns: MEASURED_RUNS });
    } finally {
      server.off('request', track);
    }
    const growth = (await settledHeap()) - before;
    expect(received.length).toBe(MEASURED_RUNS);
    expect(received.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    expect(growth).toBeLessThan(MAX_HEAP_GROWTH_BYTES);
  }, 180_000);

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
