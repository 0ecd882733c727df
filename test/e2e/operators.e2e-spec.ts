import { loggedLines } from '../support/log-lines';
import { auditEvents } from '../support/audit';
import { startApp, TestApp } from '../support/app';
import { adminAuth, login, newUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';

describe("operators' surface", () => {
  let t: TestApp;
  const { logger, lines } = loggedLines('debug');

  beforeAll(async () => {
    t = await startApp({ logger });
  });
  afterAll(async () => t?.close());

  it('serves the OpenAPI document with every security scheme, the routes and the problem schema', async () => {
    const res = await http(`${t.url}/docs/openapi.json`);
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(
      [
        'apiToken',
        'basic',
        'bearer',
        'cmjSpiJwt',
        'connectJwt',
        'refreshToken',
        'upstreamSession',
      ].sort(),
    );
    for (const path of [
      '/system/auth',
      '/system/reauth',
      '/system/logout',
      '/system/sessions',
      '/system/sessions/{id}',
      '/admin/users',
      '/admin/users/{username}',
      '/admin/groups',
      '/.well-known/jwks.json',
      '/health/live',
      '/health/ready',
    ]) {
      expect(doc.paths).toHaveProperty([path]);
    }
    expect(doc.paths['/system/reauth'].get.security).toEqual([{ refreshToken: [] }]);
    expect(doc.paths['/admin/users'].post.security).toEqual(
      expect.arrayContaining([{ bearer: [] }, { basic: [] }]),
    );
    expect(doc.paths['/admin/users'].post.responses['403']).toBeDefined();
    expect(doc.components.schemas.Problem.required).toEqual(
      expect.arrayContaining(['type', 'title', 'status', 'detail', 'code', 'requestId']),
    );
    expect(doc.components.schemas.CreateUserDto.properties.username.example).toBe('alice');
  });

  it('describes the CMJ routes\u2019 answers with a schema and an example for every field', async () => {
    const doc = (await http(`${t.url}/docs/openapi.json`)).body;
    type Schema = {
      $ref?: string;
      type?: string;
      items?: Schema;
      example?: unknown;
      properties?: Record<string, Schema>;
    };
    const resolve = (schema: Schema): Schema =>
      schema.$ref
        ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]
        : schema;
    /** The paths of the fields that have no example of their own (nor one from their schema). */
    const withoutExample = (schema: Schema, at: string): string[] => {
      const resolved = resolve(schema);
      if (resolved.type === 'array' && resolved.items)
        return resolved.example !== undefined ? [] : withoutExample(resolved.items, `${at}[]`);
      if (resolved.properties)
        return Object.entries(resolved.properties).flatMap(([name, property]) =>
          property.example !== undefined ? [] : withoutExample(property, `${at}.${name}`),
        );
      return resolved.example !== undefined ? [] : [at];
    };
    for (const [path, method] of [
      ['/cmj-spi.json', 'get'],
      ['/cmjspi/configuration/export', 'post'],
      ['/admin/migration/operations', 'get'],
      ['/admin/migration/operations/{id}', 'get'],
    ]) {
      const schema = doc.paths[path][method].responses['200'].content?.['application/json']?.schema;
      expect({ path, schema: schema !== undefined }).toEqual({ path, schema: true });
      expect({ path, withoutExample: withoutExample(schema, path) }).toEqual({
        path,
        withoutExample: [],
      });
    }
    const descriptor = doc.components.schemas.SpiDescriptorView;
    expect(Object.keys(descriptor.properties).sort()).toEqual(
      Object.keys((await http(`${t.url}/cmj-spi.json`)).body).sort(),
    );
  });

  it('serves the explorer at /docs', async () => {
    const res = await http(`${t.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/swagger/i);
  });

  it('answers health checks', async () => {
    expect((await http(`${t.url}/health/live`)).body).toEqual({ status: 'ok' });
    expect((await http(`${t.url}/health/ready`)).body).toEqual({
      status: 'ok',
      checks: { database: 'ok' },
    });
  });

  it('an unknown route is a 404 problem', async () => {
    const res = await http(`${t.url}/no/such/route`, { headers: { authorization: adminAuth() } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 404, code: 'not_found', type: '/problems/not_found' });
  });

  it('unparseable JSON is a 400 problem and an oversized body a 413 problem', async () => {
    const bad = await http(`${t.url}/system/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username":',
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    const big = await http(`${t.url}/system/auth`, {
      method: 'POST',
      json: { username: 'x', password: 'y'.repeat(2 * 1024 * 1024) },
    });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('payload_too_large');
    const wrongType = await http(`${t.url}/system/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '<a/>',
    });
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('keeps a plain caller request id and replaces a hostile one', async () => {
    const kept = await http(`${t.url}/health/live`, { headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await http(`${t.url}/system/whoami`, {
      headers: { 'x-request-id': 'evil line {"level":60} '.repeat(5) },
    });
    // Replaced by one of Warden's own: the instance's prefix and a counter.
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(replaced.body.requestId).toBe(replaced.headers.get('x-request-id'));
  });

  it('logs JSON lines with the request id, and never a credential', async () => {
    const user = await newUser(t);
    const pair = await login(t, user);
    await http(`${t.url}/system/whoami`, {
      headers: {
        authorization: bearer(pair.authentication),
        'x-request-id': 'trace-me-1',
        cookie: 'JSESSIONID=secret-cookie',
      },
    });
    await http(`${t.url}/system/auth`, {
      headers: { authorization: basic(user.username, 'wrong-password-xyz') },
    });
    await new Promise((r) => setTimeout(r, 50));
    const parsed = lines.map((l) => JSON.parse(l));
    expect(
      parsed.some(
        (l) => l.reqId === 'trace-me-1' && l.path === '/system/whoami' && l.status === 200,
      ),
    ).toBe(true);
    const all = lines.join('\n');
    expect(all).not.toContain(pair.authentication);
    expect(all).not.toContain(pair.refresh);
    expect(all).not.toContain(user.password);
    expect(all).not.toContain('wrong-password-xyz');
    expect(all).not.toContain('secret-cookie');
    expect(all).not.toMatch(/\$argon2id\$/);
    // The failed login is a security event in the audit store, with the attempted username.
    const failures = await auditEvents(t, { event: 'auth.login.failed', actor: user.username });
    expect(failures).toHaveLength(1);
    expect(JSON.stringify(failures)).not.toContain('wrong-password-xyz');
  });

  it('never answers with a stack trace', async () => {
    const responses = await Promise.all([
      http(`${t.url}/admin/users/${'x'.repeat(600)}`, { headers: { authorization: adminAuth() } }),
      http(`${t.url}/system/sessions/${'%'.repeat(10)}`, {
        method: 'DELETE',
        headers: { authorization: adminAuth() },
      }),
      http(`${t.url}/admin/users?offset=-1`, { headers: { authorization: adminAuth() } }),
      http(`${t.url}/admin/users?offset=1e20`, { headers: { authorization: adminAuth() } }),
      http(`${t.url}/admin/users?offset=9223372036854775808`, {
        headers: { authorization: adminAuth() },
      }),
    ]);
    for (const res of responses) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toMatch(/\n\s+at /);
    }
  });
});
