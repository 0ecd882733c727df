import { itWhen, startApp, TestApp } from '../support/app';
import { auditEvents, rawAuditTable } from '../support/audit';
import { adminAuth, login, newUser, TestUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { REDIS_URL, requireRedis } from '../support/redis';
import { operatorPatch } from '../support/settings';

/**
 * POST /admin/decision/explain against a running Warden: the same verdict as the decision
 * endpoint, no rate budget spent, one audit row, the credential never echoed. And the counts
 * of GET /admin/audit/stats, for administrators and for everyone else.
 */
describe('decision explainer and audit stats', () => {
  let t: TestApp;
  let user: TestUser;
  let token: string;

  beforeAll(async () => {
    t = await startApp();
    user = await newUser(t);
    const created = await http(`${t.url}/tokens`, {
      method: 'POST',
      headers: { authorization: basic(user.username, user.password) },
      json: { name: 'explained', scopes: ['read'] },
    });
    expect(created.status).toBe(201);
    token = created.body.token;
  });
  afterAll(async () => t?.close());

  const explain = (body: unknown, auth = adminAuth()) =>
    http(`${t.url}/admin/decision/explain`, {
      method: 'POST',
      headers: { authorization: auth },
      json: body,
    });
  const decide = (method: string, uri: string, authorization?: string) =>
    http(`${t.url}/authz/decision`, {
      headers: {
        'x-original-method': method,
        'x-original-uri': uri,
        ...(authorization ? { authorization } : {}),
      },
    });

  it('agrees with the decision endpoint, spends nothing, records one row and never echoes the token', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await explain({ method: 'GET', uri: '/rest/x', authorization: bearer(token) });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        decision: 'allow',
        status: 200,
        decidedBy: 'rate-limit',
        principal: { username: user.username, authMethod: 'api-token' },
      });
      expect(res.text).not.toContain(token);
    }
    // Five explanations later, the token's first real request still finds its budget whole.
    const first = await decide('GET', '/rest/x', bearer(token));
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-remaining')).toBe('599');
    // A spent budget: the explanation says 429, as the endpoint does.
    await operatorPatch(t, { rateLimit: { requests: 2 } });
    try {
      for (let i = 0; i < 2; i++)
        expect((await decide('GET', '/rest/x', bearer(token))).status).toBe(200);
      expect((await decide('GET', '/rest/x', bearer(token))).status).toBe(429);
      const spent = await explain({ method: 'GET', uri: '/rest/x', authorization: bearer(token) });
      expect(spent.body).toMatchObject({ decision: 'deny', status: 429, decidedBy: 'rate-limit' });
    } finally {
      await operatorPatch(t, { rateLimit: { requests: 600 } });
    }

    const write = await explain({ method: 'POST', uri: '/rest/x', authorization: bearer(token) });
    expect(write.body).toMatchObject({ decision: 'deny', status: 403, code: 'scope_insufficient' });

    const rows = await auditEvents(t, { event: 'decision.explained' });
    expect(rows).toHaveLength(7);
    expect(rows[0]).toMatchObject({ actor: 'admin', method: 'POST', path: '/rest/x', status: 403 });
    expect(await rawAuditTable(t)).not.toContain(token);
  });

  it('explains a refused credential and an allow-list refusal from the address given', async () => {
    const bad = await explain({ method: 'GET', uri: '/rest/x', authorization: 'Bearer wdn_nope' });
    expect(bad.body).toMatchObject({ decision: 'deny', status: 401, decidedBy: 'credential' });
    expect(bad.text).not.toContain('wdn_nope');
    await operatorPatch(t, { ip: { allow: ['127.0.0.0/8', '::1/128'] } });
    try {
      const far = await explain({ method: 'GET', uri: '/rest/x', clientIp: '203.0.113.9' });
      expect(far.body).toMatchObject({
        decision: 'deny',
        status: 403,
        code: 'ip_not_allowed',
        decidedBy: 'allow-list',
        clientIp: '203.0.113.9',
      });
      const near = await explain({ method: 'GET', uri: '/rest/x', clientIp: '127.0.0.2' });
      expect(near.body.decidedBy).toBe('credential');
    } finally {
      await operatorPatch(t, { ip: { allow: [] } });
    }
  });

  it.each([
    [{ method: 'GET' }, 'uri'],
    [{ method: 'G E T', uri: '/x' }, 'method'],
    [{ method: 'GET', uri: 'x' }, 'uri'],
    [{ method: 'GET', uri: '/x', clientIp: 'nowhere' }, 'clientIp'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const res = await explain(body);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.errors)).toContain(field);
  });

  it('is for administrators only', async () => {
    const res = await explain({ method: 'GET', uri: '/x' }, basic(user.username, user.password));
    expect(res.status).toBe(403);
  });

  it('counts decisions per bucket; a non-administrator sees only their own', async () => {
    const stats = (query: string, auth = adminAuth()) =>
      http(`${t.url}/admin/audit/stats?${query}`, { headers: { authorization: auth } });
    const all = await stats('bucket=minute');
    expect(all.status).toBe(200);
    expect(all.body.buckets.length).toBeGreaterThanOrEqual(60);
    expect(all.body.totals.allowed).toBeGreaterThan(0);
    expect(all.body.totals.rateLimited).toBeGreaterThan(0);
    const pair = await login(t, user);
    const own = await stats('bucket=hour&actor=admin', bearer(pair.authentication));
    expect(own.status).toBe(200);
    expect(own.body.actor).toBe(user.username);
    const callers = await stats('', bearer(pair.authentication));
    expect(callers.status).toBe(400);
    expect(
      (
        await http(`${t.url}/admin/audit/stats/callers`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(403);
    const top = await http(`${t.url}/admin/audit/stats/callers`, {
      headers: { authorization: adminAuth() },
    });
    expect(top.body.map((c: { actor: string }) => c.actor)).toContain('admin');
    expect(
      (await stats('bucket=minute&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z')).status,
    ).toBe(400);
    expect((await stats('bucket=week')).status).toBe(400);
    expect((await stats('bucket=hour&from=yesterday')).status).toBe(400);
  });
});

/** With the counters in Redis, explaining reads them there and spends nothing either. */
describe('decision explainer with Redis-held rate limits', () => {
  let t: TestApp;
  let ready = false;
  const maybe = itWhen('redis');

  beforeAll(async () => {
    ready = await requireRedis();
    if (!ready) return;
    t = await startApp({
      env: { REDIS_URL },
      settings: { rateLimit: { enabled: true, requests: 4, windowSeconds: 60 } },
    });
  });
  afterAll(async () => t?.close());

  maybe('peeks at the shared counter without counting', async () => {
    const user = await newUser(t);
    const created = await http(`${t.url}/tokens`, {
      method: 'POST',
      headers: { authorization: basic(user.username, user.password) },
      json: { name: 'redis-explained' },
    });
    const token: string = created.body.token;
    const explain = () =>
      http(`${t.url}/admin/decision/explain`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: { method: 'GET', uri: '/x', authorization: bearer(token) },
      });
    const decide = () =>
      http(`${t.url}/authz/decision`, {
        headers: {
          'x-original-method': 'GET',
          'x-original-uri': '/x',
          authorization: bearer(token),
        },
      });
    // The admin's own budget is 4 a minute too: newUser, one explanation before, one after.
    expect((await explain()).body.decision).toBe('allow');
    for (let i = 0; i < 4; i++) expect((await decide()).status).toBe(200);
    expect((await decide()).status).toBe(429);
    const spent = await explain();
    expect(spent.body).toMatchObject({ decision: 'deny', status: 429, decidedBy: 'rate-limit' });
  });
});
