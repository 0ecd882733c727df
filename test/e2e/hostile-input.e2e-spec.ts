import { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import fc from 'fast-check';
import { request as httpRequest } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AuditWriter } from '../../src/audit/audit-writer.service';
import { startApp, TestApp } from '../support/app';
import { flattenValidationErrors } from '../../src/common/validation-errors';
import {
  bodyWith,
  DtoRoute,
  dtoRoutes,
  TextField,
  textFieldsOf,
  validatedClasses,
} from '../support/dto-fields';
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

/**
 * Classes validated on what no route's body carries, each with hostile-text cases of its own:
 * MigratedUserDto, the users of a CMJ configuration download (warden-configuration.handler.spec).
 */
const VALIDATED_ELSEWHERE = ['MigratedUserDto'];

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

/**
 * Every text field of every DTO a route takes, found from class-validator's rules and Nest's
 * route metadata, so that a field or a DTO added later is covered without touching this file.
 */
describe('hostile text in every field of every DTO', () => {
  let t: TestApp;
  let routes: DtoRoute[];
  const fieldsOf = new Map<Type, TextField[]>();
  const reached = new Set<Type>();

  beforeAll(async () => {
    t = await startApp();
    routes = dtoRoutes(t.app);
    for (const route of routes) {
      if (!fieldsOf.has(route.dto)) fieldsOf.set(route.dto, textFieldsOf(route.dto, reached));
    }
  });
  afterAll(async () => t?.close());

  /** Half a surrogate pair, both halves, the halves reversed; NUL alone and inside a word. */
  const ILL_FORMED = ['\ud800', 'a\udfffb', '\udc00\ud800', '\u0000', 'a\u0000b'];
  const LONG = 'x'.repeat(100_000);

  const urlOf = (route: DtoRoute) =>
    `${t.url}${route.path.replace(/:[A-Za-z]+/g, 'hostile-input-test')}`;
  const send = (route: DtoRoute, field: TextField, value: string) => {
    const sent = field.list ? [value] : value;
    if (route.in === 'query') {
      return http(`${urlOf(route)}?${field.path}=${encodeURIComponent(value)}`, {
        method: route.method,
        headers: { authorization: adminAuth() },
      });
    }
    return http(urlOf(route), {
      method: route.method,
      headers: { authorization: adminAuth() },
      json: bodyWith(field.path, sent),
    });
  };
  const cases = () =>
    routes.flatMap((route) =>
      fieldsOf.get(route.dto)!.map((field) => ({
        route,
        field,
        at: `${route.method} ${route.path} ${route.in}.${field.path}`,
      })),
    );

  it('finds the routes that take DTOs, and every validated class is reached from one', () => {
    const taken = routes.map((r) => `${r.method} ${r.path} ${r.dto.name}`);
    expect(taken).toEqual(
      expect.arrayContaining([
        'POST /admin/users CreateUserDto',
        'PATCH /admin/users/:username UpdateUserDto',
        'PUT /admin/settings SettingsDto',
        'POST /cmjspi/configuration/import SpiImportDto',
        'POST /connect/installed LifecyclePayloadDto',
        'GET /admin/users PageQuery',
        'GET /admin/audit AuditQueryDto',
      ]),
    );
    // A DTO no route takes is either dead or taken in a way this test does not see: both are
    // worth a look. A base class counts as reached through the classes that extend it.
    const unreached = validatedClasses().filter(
      (c) =>
        !VALIDATED_ELSEWHERE.includes(c.name) &&
        ![...reached].some((r) => r === c || r.prototype instanceof c),
    );
    expect(unreached.map((c) => c.name)).toEqual([]);
    expect(cases().length).toBeGreaterThan(50);
  });

  it('refuses a NUL or a lone surrogate in any text field with a 400 naming the field', async () => {
    const wrong: unknown[] = [];
    for (const { route, field, at } of cases()) {
      // A lone surrogate has no UTF-8 form, so no percent-encoding: only NUL reaches a query.
      const values =
        route.in === 'query' ? ILL_FORMED.filter((v) => !/\p{Cs}/u.test(v)) : ILL_FORMED;
      for (const value of values) {
        const res = await send(route, field, value);
        const named =
          res.status === 400 &&
          res.body?.code === 'validation_failed' &&
          res.body.errors.some((e: { field: string }) =>
            [field.path, `${field.path}.0`].includes(e.field),
          );
        if (!named) wrong.push({ at, value, status: res.status, body: res.body });
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('refuses ill-formed text in a key, a query parameter and a path parameter too', async () => {
    const key = await http(`${t.url}/admin/users`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
      json: { username: 'x', password: 'correct horse battery', '\ud800': 1 },
    });
    expect(key.status).toBe(400);
    expect(key.body.errors).toEqual([{ field: '\ud800', messages: [expect.any(String)] }]);
    const query = await http(`${t.url}/admin/migration/operations?limit=1%00`, {
      headers: { authorization: adminAuth() },
    });
    expect(query.status).toBe(400);
    expect(query.body.errors.map((e: { field: string }) => e.field)).toEqual(['limit']);
    const param = await http(`${t.url}/admin/users/ad%00min`, {
      headers: { authorization: adminAuth() },
    });
    expect(param.status).toBe(400);
    expect(param.body.errors.map((e: { field: string }) => e.field)).toEqual(['username']);
  });

  it('refuses null in a field that may only be left out with a 400 naming it, never a 500', async () => {
    const authorization = adminAuth();
    const created = await http(`${t.url}/admin/users`, {
      method: 'POST',
      headers: { authorization },
      json: { username: 'null-probe', password: 'correct horse battery' },
    });
    expect(created.status).toBe(201);
    const explain = { method: 'GET', uri: '/x' };
    const cases: Array<[string, string, string, Record<string, unknown>]> = [
      ['PATCH', '/admin/users/null-probe', 'password', { password: null }],
      ['PATCH', '/admin/users/null-probe', 'groups', { groups: null }],
      ['PATCH', '/admin/users/null-probe', 'disabled', { disabled: null }],
      ['POST', '/admin/keys/rotate', 'algorithm', { algorithm: null }],
      ['POST', '/admin/decision/explain', 'clientIp', { ...explain, clientIp: null }],
      ['POST', '/admin/decision/explain', 'authorization', { ...explain, authorization: null }],
    ];
    const answers = [];
    for (const [method, path, field, json] of cases) {
      const res = await http(`${t.url}${path}`, { method, headers: { authorization }, json });
      answers.push({
        at: `${method} ${path} ${field}`,
        status: res.status,
        code: res.body?.code,
        fields: res.body?.errors?.map((e: { field: string }) => e.field),
      });
    }
    expect(answers).toEqual(
      cases.map(([method, path, field]) => ({
        at: `${method} ${path} ${field}`,
        status: 400,
        code: 'validation_failed',
        fields: [field],
      })),
    );
    // Where null means something it still does: it clears the display name.
    const cleared = await http(`${t.url}/admin/users/null-probe`, {
      method: 'PATCH',
      headers: { authorization },
      json: { displayName: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.displayName).toBeNull();
  });

  it('refuses a number of operations that is not a whole number from 1 to 500', async () => {
    const get = (limit: string) =>
      http(`${t.url}/admin/migration/operations?limit=${limit}`, {
        headers: { authorization: adminAuth() },
      });
    for (const limit of ['1.5', '0.5', '0', '501', 'ten']) {
      const res = await get(limit);
      expect({
        limit,
        status: res.status,
        fields: res.body?.errors?.map((e: any) => e.field),
      }).toEqual({ limit, status: 400, fields: ['limit'] });
    }
    const fine = await get('2');
    expect(fine.status).toBe(200);
    expect(Array.isArray(fine.body)).toBe(true);
  });

  it('bounds the length of every text field: each DTO refuses 100 000 characters, naming the field', async () => {
    const unbounded: string[] = [];
    for (const fields of fieldsOf.values()) {
      for (const field of fields) {
        const instance = plainToInstance(
          field.dto,
          bodyWith(field.path.split('.').pop()!, field.list ? [LONG] : LONG),
        ) as object;
        // A nested field is checked in its own class, which holds its rules.
        const errors = flattenValidationErrors(await validate(instance));
        const leaf = field.path.split('.').pop()!;
        if (!errors.some((e) => e.field === leaf || e.field === `${leaf}.0`))
          unbounded.push(`${field.dto.name}.${field.path}`);
      }
    }
    expect(unbounded).toEqual([]);
  });

  it('answers a very long value in any text field with a 4xx problem, never a 500', async () => {
    const wrong: unknown[] = [];
    for (const { route, field, at } of cases()) {
      const res = await send(route, field, LONG);
      if (
        res.status < 400 ||
        res.status >= 500 ||
        !/problem\+json/.test(res.headers.get('content-type') ?? '')
      )
        wrong.push({ at, status: res.status });
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});
