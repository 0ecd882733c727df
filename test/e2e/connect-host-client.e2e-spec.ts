import { DATABASES, itWhen, startApp, TestApp } from '../support/app';
import { FakeAtlassian, newTenant } from '../support/atlassian';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';
import { CONNECT_BASE_URL as BASE_URL, useConnectApp } from '../support/connect';

/** Warden calling the tenant's REST API: as the app (its JWT), and as a user (the JWT bearer grant). */
describe.each(DATABASES)('Atlassian Connect: calling the tenant back (%s)', (database) => {
  const connect = useConnectApp(database);
  const { atl, uninstall, installed } = connect;
  const when = itWhen(database);
  let t: TestApp;
  beforeAll(() => {
    if (connect.ready) t = connect.t;
  });

  describe('calling the tenant back', () => {
    const tenant = newTenant();
    beforeAll(async () => {
      if (connect.ready) await installed(tenant);
    });
    const check = (body: Record<string, unknown>) =>
      http(`${t.url}/admin/connect/tenants/${encodeURIComponent(tenant.clientKey)}/check`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: body,
      });

    when(
      'signs as the app: iss the app key, aud the clientKey, qsh relative to the tenant',
      async () => {
        const res = await check({ path: '/rest/api/2/serverInfo?doHealthCheck=true' });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: 200, asUser: null });
        expect(atl.lastHostCall).toEqual({
          kind: 'jwt',
          who: tenant.clientKey,
          path: '/rest/api/2/serverInfo?doHealthCheck=true',
        });
      },
    );

    when('refuses to act as a user without the ACT_AS_USER scope', async () => {
      const res = await check({ accountId: 'acc-1' });
      expect(res.status).toBe(409);
      expect(res.body.detail).toMatch(/ACT_AS_USER/);
    });

    when('keeps calls on the tenant: an absolute or protocol-relative path is a 400', async () => {
      expect((await check({ path: 'https://evil.example/x' })).status).toBe(400);
      expect((await check({ path: '//evil.example/x' })).status).toBe(400);
    });

    when(
      'signs the path that goes on the wire: a space or non-ASCII arrives percent-encoded and the tenant accepts the qsh',
      async () => {
        for (const [path, wire] of [
          ['/rest/a b', '/rest/a%20b'],
          ['/rest/café/ü?q=ä ö&r=x y', '/rest/caf%C3%A9/%C3%BC?q=%C3%A4%20%C3%B6&r=x%20y'],
          ['/rest/{x}|[y]', '/rest/%7Bx%7D%7C%5By%5D'],
        ]) {
          atl.lastHostCall = null;
          const res = await check({ path });
          expect(res.status).toBe(200);
          expect(res.body).toEqual({ status: 200, asUser: null });
          expect(atl.lastHostCall).toEqual({ kind: 'jwt', who: tenant.clientKey, path: wire });
        }
      },
    );

    when(
      'refuses with a 400 naming the path what cannot be a relative URL path, sending nothing',
      async () => {
        for (const path of [
          '/rest/a\r\nX-Injected: 1',
          '/rest/a\nb',
          '/rest/a\tb',
          '/rest/a\u0000b',
          '/rest/../../admin',
          '/rest/%2e%2e/admin',
          '/rest?a=%ZZ',
          '/rest/api/2/search?jql=%zz',
          '/rest/%',
          '/rest\\x',
          '/rest#x',
          'rest/x',
        ]) {
          atl.lastHostCall = null;
          const res = await check({ path });
          expect({ path, status: res.status }).toEqual({ path, status: 400 });
          expect(res.headers.get('content-type')).toContain('application/problem+json');
          expect(res.body.code).toBe('validation_failed');
          expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['path']);
          expect(atl.lastHostCall).toBeNull();
        }
      },
    );

    when('refuses an account id that is not one with a 400 naming the field', async () => {
      const res = await check({ accountId: 'a b' });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.errors).toEqual([
        { field: 'accountId', messages: [expect.stringMatching(/printable ASCII/)] },
      ]);
    });

    when('answers 404 tenant_not_found for an unknown tenant, as GET and PATCH do', async () => {
      const url = `${t.url}/admin/connect/tenants/${encodeURIComponent('jira:nobody-here')}`;
      const headers = { authorization: adminAuth() };
      const res = await http(`${url}/check`, { method: 'POST', headers, json: {} });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('tenant_not_found');
      expect((await http(url, { headers })).body.code).toBe('tenant_not_found');
      const patch = await http(url, { method: 'PATCH', headers, json: { enabled: true } });
      expect(patch.body.code).toBe('tenant_not_found');
    });

    when('answers 409 tenant_not_callable for a disabled or an uninstalled tenant', async () => {
      const other = newTenant();
      await installed(other);
      const url = `${t.url}/admin/connect/tenants/${encodeURIComponent(other.clientKey)}`;
      const headers = { authorization: adminAuth() };
      const call = () => http(`${url}/check`, { method: 'POST', headers, json: {} });
      expect((await call()).status).toBe(200);
      await http(url, { method: 'PATCH', headers, json: { enabled: false } });
      const disabled = await call();
      expect(disabled.status).toBe(409);
      expect(disabled.body.code).toBe('tenant_not_callable');
      await http(url, { method: 'PATCH', headers, json: { enabled: true } });
      expect((await call()).status).toBe(200);
      expect((await uninstall(other)).status).toBe(204);
      const gone = await call();
      expect(gone.status).toBe(409);
      expect(gone.body.code).toBe('tenant_not_callable');
    });

    when(
      'answers 409, not 404, for a stored tenant whose shared secret cannot be opened',
      async () => {
        const victim = newTenant();
        const donor = newTenant();
        await installed(victim);
        await installed(donor);
        // A sealed secret is bound to its tenant: moved to another, it cannot be opened.
        const p = (n: number) => (database === 'postgres' ? `$${n}` : '?');
        await t.dataSource.query(
          `UPDATE connect_tenants SET shared_secret = (SELECT shared_secret FROM connect_tenants WHERE client_key = ${p(1)}) WHERE client_key = ${p(2)}`,
          [donor.clientKey, victim.clientKey],
        );
        const url = `${t.url}/admin/connect/tenants/${encodeURIComponent(victim.clientKey)}`;
        const headers = { authorization: adminAuth() };
        // The switch reloads the row on this instance, which now cannot open its secret.
        expect(
          (await http(url, { method: 'PATCH', headers, json: { enabled: true } })).status,
        ).toBe(200);
        const res = await http(`${url}/check`, { method: 'POST', headers, json: {} });
        expect(res.status).toBe(409);
        expect(res.body.code).toBe('tenant_not_callable');
        expect(res.body.detail).toMatch(/install again/);
      },
    );
  });
});

describe('Connect: acting as a user (JWT bearer grant)', () => {
  let t: TestApp;
  const atl = new FakeAtlassian();
  const tenant = newTenant();

  beforeAll(async () => {
    await atl.start();
    t = await startApp({
      env: {
        WARDEN_BASE_URL: BASE_URL,
        CONNECT_KEYS_URL: atl.keysUrl,
        CONNECT_AUTH_SERVER_URL: atl.url,
        CONNECT_SCOPES: 'READ,WRITE,ACT_AS_USER',
      },
    });
    atl.tenants.set(tenant.clientKey, tenant);
    const res = await http(`${t.url}/connect/installed`, {
      method: 'POST',
      headers: {
        authorization: `JWT ${atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed')}`,
      },
      json: atl.installPayload(tenant),
    });
    expect(res.status).toBe(204);
  });
  afterAll(async () => {
    await t?.close();
    await atl.stop();
  });

  const check = (accountId: string) =>
    http(`${t.url}/admin/connect/tenants/${encodeURIComponent(tenant.clientKey)}/check`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
      json: { path: '/rest/api/3/myself', accountId },
    });

  it('refuses an account id with a space with a 400 naming the field, asking nobody', async () => {
    const before = atl.tokenRequests;
    const res = await check('a b');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['accountId']);
    expect(atl.tokenRequests).toBe(before);
  });

  it('lists ACT_AS_USER in the descriptor', async () => {
    const res = await http(`${t.url}/atlassian-connect.json`);
    expect(res.body.scopes).toEqual(['READ', 'WRITE', 'ACT_AS_USER']);
  });

  it('gets an access token by the grant, calls as the user, and reuses the token', async () => {
    const before = atl.tokenRequests;
    const first = await check('acc-alice');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ status: 200, asUser: 'acc-alice' });
    expect(atl.lastHostCall).toEqual({
      kind: 'bearer',
      who: 'acc-alice',
      path: '/rest/api/3/myself',
    });
    expect((await check('acc-alice')).status).toBe(200);
    expect(atl.tokenRequests - before).toBe(1);
    expect((await check('acc-bob')).status).toBe(200);
    expect(atl.lastHostCall?.who).toBe('acc-bob');
    expect(atl.tokenRequests - before).toBe(2);
  });

  it('answers 502 when the authorization server fails, and 200 again once it is back', async () => {
    atl.tokenDown = true;
    try {
      const res = await check('acc-carol');
      expect(res.status).toBe(502);
      expect(res.body.code).toBe('tenant_call_failed');
    } finally {
      atl.tokenDown = false;
    }
    expect((await check('acc-carol')).status).toBe(200);
  });
});
