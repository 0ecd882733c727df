import { DATABASES, itWhen, TestApp } from '../support/app';
import { newTenant } from '../support/atlassian';
import { adminAuth, newUser } from '../support/factories';
import { basic, http } from '../support/http';
import { CONNECT_BASE_URL as BASE_URL, useConnectApp } from '../support/connect';

/** The descriptor, uninstall, the administrator's switch, and their OpenAPI documentation. */
describe.each(DATABASES)('Atlassian Connect: descriptor and tenants (%s)', (database) => {
  const connect = useConnectApp(database);
  const { atl, install, uninstall, whoami, requestToken, tenants, installed } = connect;
  const when = itWhen(database);
  let t: TestApp;
  beforeAll(() => {
    if (connect.ready) t = connect.t;
  });

  when('serves the descriptor: jwt authentication, signed install, context-qsh', async () => {
    const res = await http(`${t.url}/atlassian-connect.json`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      key: 'warden',
      baseUrl: BASE_URL,
      authentication: { type: 'jwt' },
      lifecycle: { installed: '/connect/installed', uninstalled: '/connect/uninstalled' },
      apiMigrations: { 'signed-install': true, 'context-qsh': true },
      scopes: ['READ'],
    });
  });

  describe('uninstall and the administrator\u2019s switch', () => {
    when('an uninstall stops the tenant\u2019s tokens at once and keeps its record', async () => {
      const tenant = newTenant();
      await installed(tenant);
      const token = requestToken(tenant);
      expect((await whoami(token)).status).toBe(200);
      expect((await uninstall(tenant)).status).toBe(204);
      expect((await whoami(token)).status).toBe(401);
      expect((await tenants()).find((x) => x.clientKey === tenant.clientKey)).toMatchObject({
        installed: false,
        enabled: true,
      });
      // The host's next install comes with a new token (a later iat).
      const reinstall = atl.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed', {
        claims: { iat: Math.floor(Date.now() / 1000) + 1 },
      });
      expect((await install(tenant, reinstall)).status).toBe(204);
      expect((await whoami(requestToken(tenant))).status).toBe(200);
    });

    when('uninstalling an unknown tenant is a 404, not a 500', async () => {
      expect((await uninstall(newTenant())).status).toBe(404);
    });

    when('an administrator disables and enables a tenant; others may not', async () => {
      const tenant = newTenant();
      await installed(tenant);
      const path = `${t.url}/admin/connect/tenants/${encodeURIComponent(tenant.clientKey)}`;
      const user = await newUser(t);
      const denied = await http(path, {
        method: 'PATCH',
        headers: { authorization: basic(user.username, user.password) },
        json: { enabled: false },
      });
      expect(denied.status).toBe(403);
      const off = await http(path, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { enabled: false },
      });
      expect(off.status).toBe(200);
      expect(off.body.enabled).toBe(false);
      expect((await whoami(requestToken(tenant))).status).toBe(401);
      // A reinstall does not undo an administrator's decision.
      expect((await install(tenant)).status).toBe(204);
      expect((await whoami(requestToken(tenant))).status).toBe(401);
      await http(path, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { enabled: true },
      });
      expect((await whoami(requestToken(tenant))).status).toBe(200);
      const missing = await http(`${t.url}/admin/connect/tenants/nobody`, {
        headers: { authorization: adminAuth() },
      });
      expect(missing.status).toBe(404);
      const bad = await http(path, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { enabled: 'no' },
      });
      expect(bad.status).toBe(400);
    });
  });

  when('documents the descriptor and the tenant switch with schemas and examples', async () => {
    const doc = (await http(`${t.url}/docs/openapi.json`)).body;
    const ok = doc.paths['/atlassian-connect.json'].get.responses['200'];
    const ref: string = ok.content['application/json'].schema.$ref;
    const descriptor = doc.components.schemas[ref.split('/').pop()!];
    expect(descriptor.properties.authentication.example).toEqual({ type: 'jwt' });
    expect(descriptor.properties.apiMigrations.example).toEqual({
      'signed-install': true,
      'context-qsh': true,
    });
    expect(descriptor.properties.lifecycle.example).toEqual({
      installed: '/connect/installed',
      uninstalled: '/connect/uninstalled',
    });
    const patch = doc.paths['/admin/connect/tenants/{clientKey}'].patch.requestBody;
    const body =
      doc.components.schemas[
        (patch.content['application/json'].schema.$ref as string).split('/').pop()!
      ];
    expect(body.properties.enabled.example).toBe(false);
    const check = doc.paths['/admin/connect/tenants/{clientKey}/check'].post.responses;
    expect(Object.keys(check).sort()).toEqual(['200', '400', '401', '403', '404', '409', '502']);
  });
});
