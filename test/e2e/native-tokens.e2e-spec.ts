import { loggedLines } from '../support/log-lines';
import { DEFAULT_SETTINGS, IDENTITY_PROVIDER_DEFAULTS } from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { startApp, TestApp } from '../support/app';
import { PROPAGATION_MS, within } from '../support/eventually';
import { adminAuth, login, newUser, TestUser, WardenAt } from '../support/factories';
import { bearer, http } from '../support/http';
import { FakeIdp } from '../support/idp';
import { operatorPatch, storeSettingsDocument } from '../support/settings';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const std = (segment: string) => Buffer.from(segment, 'base64url').toString('base64');
/** What a Jira / Confluence Data Center personal access token looks like. */
const JIRA_PAT = 'NjQ1MjE3NTk0MjQ3OmWq9xkZ0zQbRnUe7V2cKx3Lh0sPqYtM';

const ask = (t: WardenAt, authorization: string) =>
  http(`${t.url}/authz/decision`, {
    headers: {
      'x-original-method': 'GET',
      'x-original-uri': '/rest/api/2/myself',
      authorization,
    },
  });

describe('upstream-native bearer tokens (nativeOAuthTokens)', () => {
  let t: TestApp;
  let user: TestUser;
  const idp = new FakeIdp();

  beforeAll(async () => {
    await idp.start();
    t = await startApp({ env: { WARDEN_IDP_ALLOW_HTTP: 'true' } });
    user = await newUser(t);
  });
  afterAll(async () => {
    await t?.close();
    await idp.stop();
  });

  it("passes an upstream's token on; every spelling of a Warden token is judged and refused", async () => {
    const passed = await ask(t, bearer(JIRA_PAT));
    expect(passed.status).toBe(200);
    expect(passed.headers.get('x-warden-auth-method')).toBe('native');
    expect(passed.headers.get('x-warden-user')).toBeNull();

    const { authentication: access } = await login(t, user);
    const [h, p, s] = access.split('.');
    const live = await ask(t, bearer(access));
    expect(live.status).toBe(200);
    expect(live.headers.get('x-warden-user')).toBe(user.username);
    const out = await http(`${t.url}/system/logout`, {
      method: 'POST',
      headers: { authorization: bearer(access) },
    });
    expect(out.status).toBe(204);

    const foreignPayload = b64({ iss: 'https://jira.example.test', sub: 'bob', exp: 4102444800 });
    const { kid } = JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string };
    const readings: [string, string][] = [
      ['the revoked token', access],
      ['with = appended', `${access}=`],
      ['with == appended', `${access}==`],
      ['padded segments', `${h}==.${p}=.${s}`],
      ['the standard base64 alphabet', `${std(h)}.${std(p)}.${std(s)}`],
      ['an extra segment', `${access}.x`],
      ['a percent-encoded pad', `${access}%3D`],
      ['alg none with our issuer', `${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`],
      ['our kid with a foreign issuer', `${b64({ alg: 'RS256', kid })}.${foreignPayload}.${s}`],
    ];
    for (const [name, token] of readings) {
      const res = await ask(t, bearer(token));
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.headers.get('x-warden-auth-method')).toBeNull();
    }
  });

  describe('identityProviders[].opaqueTokens', () => {
    const introspection = {
      name: 'idp',
      enabled: true,
      mode: 'introspection',
      introspectionUrl: `${'http://127.0.0.1:9'}/introspect`,
      clientId: 'warden',
      clientSecret: 'secret',
      issuer: 'https://idp.example.test/',
      audience: null,
      usernameClaim: 'username',
    };
    const save = async (patch: Record<string, unknown>) => {
      const current = await http(`${t.url}/admin/settings`, {
        headers: { authorization: adminAuth() },
      });
      return http(`${t.url}/admin/settings`, {
        method: 'PATCH',
        headers: { authorization: adminAuth(), 'if-match': current.headers.get('etag')! },
        json: patch,
      });
    };
    const fieldsOf = (body: { errors?: { field: string }[] }) =>
      (body.errors ?? []).map((e) => e.field);

    it('an introspection provider needs a pattern while native tokens are allowed (400 naming it)', async () => {
      const missing = await save({
        identityProviders: [
          { ...introspection, opaqueTokens: '^x_[0-9]{8}$', name: 'other' },
          { ...introspection, issuer: null, opaqueTokens: null },
        ],
      });
      expect(missing.status).toBe(400);
      expect(fieldsOf(missing.body)).toEqual(['identityProviders[1].opaqueTokens']);

      // Native tokens off: no upstream token is expected, the provider may have every opaque one.
      const off = await save({
        nativeOAuthTokens: { allowed: false },
        identityProviders: [{ ...introspection, opaqueTokens: null }],
      });
      expect(off.status).toBe(200);
      expect(off.headers.get('warning')).toBeNull();
      const nativeBack = await save({ nativeOAuthTokens: { allowed: true } });
      expect(nativeBack.status).toBe(400);
      expect(fieldsOf(nativeBack.body)).toEqual(['identityProviders[0].opaqueTokens']);

      const good = await save({
        nativeOAuthTokens: { allowed: true },
        identityProviders: [{ ...introspection, opaqueTokens: '^idp_[A-Za-z0-9]{40}$' }],
      });
      expect(good.status).toBe(200);
      expect(good.body.identityProviders[0].opaqueTokens).toBe('^idp_[A-Za-z0-9]{40}$');
      expect(good.body.identityProviders[0].clientSecret).toBe('********');
      await operatorPatch(t, { identityProviders: [] });
    });

    it.each([
      ['not anchored at the start', 'idp_[a-z]+$'],
      ['not anchored at the end', '^idp_[a-z]+'],
      ['an escaped dollar is no anchor', '^idp_[a-z]+\\$'],
      ['not a regular expression', '^idp_($'],
      ['nested quantifiers', '^(a+)+$'],
      ['not a string', 42],
    ])('refuses a pattern that is %s (400, never a 500)', async (_, pattern) => {
      const res = await save({ identityProviders: [{ ...introspection, opaqueTokens: pattern }] });
      expect(res.status).toBe(400);
      expect(fieldsOf(res.body)).toContain('identityProviders[0].opaqueTokens');
    });
  });

  describe('a document stored before opaqueTokens (and identityProviders) existed', () => {
    it('sends no opaque token to the provider until a pattern is set, and says so at start and on GET', async () => {
      const { opaqueTokens: _, ...withoutPattern } = {
        ...IDENTITY_PROVIDER_DEFAULTS,
        enabled: true,
        mode: 'introspection' as const,
        introspectionUrl: `${idp.url}/introspect`,
        clientId: idp.client.id,
        clientSecret: idp.client.secret,
        issuer: idp.issuer,
        usernameClaim: 'username',
      };
      // An `externalJwt` block of that time, upgraded to the provider `default` when loaded.
      await storeSettingsDocument(t, {
        ...DEFAULT_SETTINGS,
        identityProviders: undefined,
        externalJwt: withoutPattern,
      });
      // The first instance takes the document up now: its own poll would otherwise come during
      // the second's start, and Nest's context loggers write to the app created last in the
      // process, so its warning would land in the second's log below.
      await t.app.get(SettingsService).storedChanged();
      const { logger, lines } = loggedLines('info');
      const b = await startApp({
        env: { DATABASE_URL: t.env.DATABASE_URL, WARDEN_IDP_ALLOW_HTTP: 'true' },
        logger,
      });
      try {
        const warned = lines
          .map((line) => JSON.parse(line) as { level: number; msg: string })
          .filter(
            (entry) =>
              entry.level === 40 && entry.msg.includes('identityProviders[0].opaqueTokens'),
          );
        expect(warned).toHaveLength(1);

        const read = await http(`${b.url}/admin/settings`, {
          headers: { authorization: adminAuth() },
        });
        expect(read.status).toBe(200);
        expect(read.headers.get('warning')).toMatch(
          /^299 - "identityProviders\[0\]\.opaqueTokens: .+"$/,
        );
        expect(read.body.identityProviders[0]).toMatchObject({
          name: 'default',
          opaqueTokens: null,
        });

        idp.active.set('idp-opaque-1', { active: true, username: 'olga', iss: idp.issuer });
        const before = idp.introspectionRequests;
        const native = await ask(b, bearer('idp-opaque-1'));
        expect(native.status).toBe(200);
        expect(native.headers.get('x-warden-auth-method')).toBe('native');
        const whoami = await http(`${b.url}/system/whoami`, {
          headers: { authorization: bearer('idp-opaque-1') },
        });
        expect(whoami.status).toBe(401);
        expect(idp.introspectionRequests).toBe(before);

        // An administrator sets the pattern: the warning goes, the provider's tokens go to it.
        const saved = await http(`${b.url}/admin/settings`, {
          method: 'PATCH',
          headers: { authorization: adminAuth(), 'if-match': read.headers.get('etag')! },
          json: { externalJwt: { opaqueTokens: '^idp-opaque-[0-9]+$' } },
        });
        expect(saved.status).toBe(200);
        expect(saved.headers.get('warning')).toBeNull();
        const judged = await ask(b, bearer('idp-opaque-1'));
        expect(judged.status).toBe(200);
        expect(judged.headers.get('x-warden-user')).toBe('olga');
        expect(idp.introspectionRequests).toBe(before + 1);
        expect((await ask(b, bearer(JIRA_PAT))).headers.get('x-warden-auth-method')).toBe('native');
        expect(idp.introspectionRequests).toBe(before + 1);
      } finally {
        const version = b.app.get(SettingsService).etag();
        await b.close();
        // The first instance catches up with the document the second saved, then puts it back.
        const { result } = await within(
          'the first instance reads the saved settings',
          async () => t.app.get(SettingsService).etag(),
          (etag) => etag === version,
          5 * PROPAGATION_MS,
        );
        expect(result).toBe(version);
        await operatorPatch(t, { identityProviders: [] });
      }
    });
  });
});
