import { CONTEXT_QSH, qshOf } from '../../src/connect/qsh';
import { DATABASES, itWhen, TestApp } from '../support/app';
import { FakeAtlassian, newTenant } from '../support/atlassian';
import { adminAuth, login } from '../support/factories';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { http } from '../support/http';
import { b64, CONNECT_BASE_URL as BASE_URL, useConnectApp } from '../support/connect';

/** A tenant's request tokens: whoami, qsh, the refusals, and the decision endpoint. */
describe.each(DATABASES)('Atlassian Connect: request tokens (%s)', (database) => {
  const connect = useConnectApp(database);
  const { atl, whoami, requestToken, installed } = connect;
  const when = itWhen(database);
  let t: TestApp;
  beforeAll(() => {
    if (connect.ready) t = connect.t;
  });

  describe('request tokens', () => {
    const tenant = newTenant();
    beforeAll(async () => {
      if (connect.ready) await installed(tenant);
    });

    when('whoami names the tenant and the user (header or ?jwt=)', async () => {
      const res = await whoami(requestToken(tenant));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        tenant: { clientKey: tenant.clientKey, baseUrl: atl.tenantBaseUrl, productType: 'jira' },
        user: { accountId: 'acc-5b10a2844c20165700ede21g' },
        context: false,
      });
      const url = '/connect/whoami?lic=active&xdm_e=https%3A%2F%2Fx.atlassian.net&cp=';
      const token = FakeAtlassian.requestToken(tenant, 'GET', url);
      const query = await http(`${t.url}${url}&jwt=${token}`);
      expect(query.status).toBe(200);
      expect(query.body.tenant.clientKey).toBe(tenant.clientKey);
    });

    when('takes the account from context.user.accountId in older tokens', async () => {
      const res = await whoami(
        requestToken(tenant, { sub: undefined, context: { user: { accountId: 'legacy-acc' } } }),
      );
      expect(res.body.user).toEqual({ accountId: 'legacy-acc' });
    });

    when('accepts context-qsh on whoami (marked for it)', async () => {
      const res = await whoami(requestToken(tenant, { qsh: CONTEXT_QSH }));
      expect(res.status).toBe(200);
      expect(res.body.context).toBe(true);
    });

    when('refuses a wrong qsh, another method, a changed query', async () => {
      const wrong = await whoami(requestToken(tenant, { qsh: qshOf('GET', '/connect/other') }));
      expect(wrong.status).toBe(401);
      expect(wrong.body.detail).toMatch(/qsh/);
      const post = FakeAtlassian.requestToken(tenant, 'POST', '/connect/whoami');
      expect((await whoami(post)).status).toBe(401);
      const token = FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami?a=1');
      expect((await whoami(token, '/connect/whoami?a=2')).status).toBe(401);
      expect((await whoami(token, '/connect/whoami?a=1')).status).toBe(200);
    });

    when(
      'refuses expired, exp-less, alg none, another secret, unknown tenant, two jwt parameters',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        expect(
          (await whoami(requestToken(tenant, { iat: now - 600, exp: now - 300 }))).status,
        ).toBe(401);
        expect((await whoami(requestToken(tenant, { exp: undefined }))).status).toBe(401);
        const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
          iss: tenant.clientKey,
          exp: now + 60,
          qsh: qshOf('GET', '/connect/whoami'),
        })}.`;
        expect((await whoami(none)).status).toBe(401);
        const forged = FakeAtlassian.requestToken(
          { ...tenant, sharedSecret: 'f'.repeat(40) },
          'GET',
          '/connect/whoami',
        );
        expect((await whoami(forged)).status).toBe(401);
        expect((await whoami(requestToken(newTenant()))).status).toBe(401);
        const token = requestToken(tenant);
        const twice = await http(`${t.url}/connect/whoami?jwt=${token}&jwt=${token}`);
        expect(twice.status).toBe(401);
        // A header and a parameter: the upstream might read the other one.
        const both = await http(`${t.url}/connect/whoami?jwt=${token}`, {
          headers: { authorization: `JWT ${token}` },
        });
        expect(both.status).toBe(401);
        const encodedName = await http(`${t.url}/connect/whoami?%6Awt=${token}`, {
          headers: { authorization: `JWT ${token}` },
        });
        expect(encodedName.status).toBe(401);
        // A query that cannot be decoded is a 401 for the token, not a 500.
        const badQuery = await whoami(
          FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami'),
          '/connect/whoami?q=%E0%A4%A',
        );
        expect(badQuery.status).toBe(401);
        expect(badQuery.body.detail).toMatch(/percent-encoding/);
      },
    );

    when('never takes a lifecycle token as a request token, nor a Warden token', async () => {
      const lifecycle = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/whoami', {
        claims: { qsh: qshOf('GET', '/connect/whoami') },
      });
      expect((await whoami(lifecycle)).status).toBe(401);
      expect(
        (await http(`${t.url}/connect/whoami`, { headers: { authorization: adminAuth() } })).status,
      ).toBe(401);
      const { authentication } = await login(t, {
        username: ADMIN_USERNAME,
        password: ADMIN_PASSWORD,
      });
      const access = await http(`${t.url}/connect/whoami`, {
        headers: { authorization: `Bearer ${authentication}` },
      });
      expect(access.status).toBe(401);
      // Nor a Warden token sent with the JWT scheme.
      expect((await whoami(authentication)).status).toBe(401);
    });

    when('is not accepted on Warden\u2019s other routes', async () => {
      const token = FakeAtlassian.requestToken(tenant, 'GET', '/system/whoami');
      const res = await http(`${t.url}/system/whoami`, {
        headers: { authorization: `JWT ${token}` },
      });
      expect(res.status).toBe(401);
    });
  });

  describe('the decision endpoint', () => {
    const tenant = newTenant();
    beforeAll(async () => {
      if (connect.ready) await installed(tenant);
    });
    const decide = (token: string, method: string, uri: string) =>
      http(`${t.url}/authz/decision`, {
        headers: {
          authorization: `JWT ${token}`,
          'x-original-method': method,
          'x-original-uri': uri,
        },
      });

    when('judges a Connect JWT with qsh over the original method and URI', async () => {
      const uri = '/rest/app/1/item?ids=2&ids=1&q=a+b';
      const res = await decide(FakeAtlassian.requestToken(tenant, 'PUT', uri), 'PUT', uri);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-warden-auth-method')).toBe('connect');
      expect(res.headers.get('x-warden-tenant')).toBe(tenant.clientKey);
      expect(res.headers.get('x-warden-user')).toBe('acc-5b10a2844c20165700ede21g');
      expect(
        (await decide(FakeAtlassian.requestToken(tenant, 'PUT', uri), 'DELETE', uri)).status,
      ).toBe(401);
      expect(
        (
          await decide(
            FakeAtlassian.requestToken(tenant, 'PUT', uri),
            'PUT',
            '/rest/app/1/item?ids=3',
          )
        ).status,
      ).toBe(401);
    });

    when('does not take context tokens (the route is not marked for them)', async () => {
      const res = await decide(
        requestToken(tenant, { qsh: CONTEXT_QSH }),
        'GET',
        '/rest/app/1/item',
      );
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(/context/);
    });
  });
});
