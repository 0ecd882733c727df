import { spawnSync } from 'node:child_process';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signJws } from '../support/jws';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Clock } from '../../src/common/clock';
import { DomainError } from '../../src/common/problem/domain-error';
import { DEFAULT_SETTINGS, IDENTITY_PROVIDER_DEFAULTS } from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { startApp, TestApp } from '../support/app';
import { adminAuth, login, newGroup, newUser } from '../support/factories';
import { bearer, http } from '../support/http';
import { FakeIdp, newRsaKey } from '../support/idp';
import { auditEvents } from '../support/audit';
import { operatorPatch, storeSettingsDocument } from '../support/settings';
import { eventually } from '../support/eventually';
import { SecretBox } from '../../src/common/crypto/secret-box';
import { SettingsEntity } from '../../src/settings/settings.entity';
import { SETTINGS_ROW } from '../../src/settings/settings.repository';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('external identity provider tokens', () => {
  let t: TestApp;
  const idp = new FakeIdp();

  beforeAll(async () => {
    await idp.start();
    t = await startApp({ env: { WARDEN_IDP_ALLOW_HTTP: 'true' } });
  });
  afterAll(async () => {
    await t?.close();
    await idp.stop();
  });

  const whoami = (token: string) =>
    http(`${t.url}/system/whoami`, { headers: { authorization: bearer(token) } });
  /** The test's IdP as the only provider, named `corp`, in jwks mode. */
  const jwksProvider = (extra: Record<string, unknown> = {}) => ({
    name: 'corp',
    enabled: true,
    mode: 'jwks',
    jwksUrl: `${idp.url}/jwks`,
    issuer: idp.issuer,
    audience: 'warden-api',
    algorithms: ['RS256'],
    usernameClaim: 'sub',
    usernameRegex: null,
    groupsClaim: 'groups',
    ...extra,
  });
  const useProviders = (...identityProviders: Record<string, unknown>[]) =>
    operatorPatch(t, { identityProviders });
  const useJwks = (extra: Record<string, unknown> = {}) => useProviders(jwksProvider(extra));

  describe('jwks mode', () => {
    beforeAll(() => useJwks());

    it('accepts a good token and maps its username and groups (warden-admins never)', async () => {
      const res = await whoami(
        idp.sign({ sub: 'carol', groups: ['jira-users', 'warden-admins', 'qa'] }),
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        username: 'carol',
        authMethod: 'external',
        groups: ['jira-users', 'qa'],
      });
      // Not an administrator, whatever the token says.
      const admin = await http(`${t.url}/admin/settings`, {
        headers: { authorization: bearer(idp.sign({ sub: 'carol', groups: ['warden-admins'] })) },
      });
      expect(admin.status).toBe(403);
    });

    const refused: [string, () => string][] = [
      ['expired', () => idp.sign({ exp: Math.floor(Date.now() / 1000) - 600 })],
      ['without exp', () => idp.sign({ exp: undefined })],
      ['from another issuer', () => idp.sign({ iss: 'https://evil.example/' })],
      ['with iss as an array', () => idp.sign({ iss: [idp.issuer] })],
      ['for another audience', () => idp.sign({ aud: 'someone-else' })],
      ['signed by a key not in the set', () => idp.sign({}, newRsaKey(idp.keys[0].kid))],
      ['with alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${idp.sign({}).split('.')[1]}.`],
      [
        "HS256 signed with the IdP's public key as the secret",
        () => {
          const pem = idp.keys[0].publicKey.export({ type: 'spki', format: 'pem' }) as string;
          const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: idp.keys[0].kid })}.${idp.sign({}).split('.')[1]}`;
          return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
        },
      ],
      [
        'signed by a key embedded in its own jwk header',
        () => {
          const attacker = newRsaKey('attacker');
          return idp.sign({}, attacker, { jwk: attacker.publicKey.export({ format: 'jwk' }) });
        },
      ],
    ];
    it.each(refused)('refuses a token %s with a 401', async (_name, make) => {
      const res = await whoami(make());
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    });

    it('never fetches keys from a jku or x5u the token names', async () => {
      let contacted = 0;
      const evil = createServer((_req, res) => {
        contacted++;
        res.end('{}');
      });
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      const where = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/keys`;
      try {
        const attacker = newRsaKey('evil-kid');
        for (const header of [{ jku: where }, { x5u: where }]) {
          expect((await whoami(idp.sign({}, attacker, header))).status).toBe(401);
        }
        expect(contacted).toBe(0);
      } finally {
        await new Promise((r) => evil.close(r));
      }
    });

    it("keeps Warden's own tokens Warden's: one with Warden's issuer never passes as external", async () => {
      const own = await login(t, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });
      expect((await whoami(own.authentication)).body.authMethod).toBe('access');
      const forged = idp.sign({ iss: t.config.issuer, aud: 'warden-api' });
      expect((await whoami(forged)).status).toBe(401);
    });

    it('follows a key rotation, and a flood of unknown kids fetches the set at most once', async () => {
      // A key source of its own (another URL), so that earlier tests' fetches do not count.
      await useJwks({ jwksUrl: `${idp.url}/jwks?rotation` });
      const clock = jest.spyOn(t.app.get(Clock), 'now');
      try {
        const before = idp.jwksRequests;
        expect((await whoami(idp.sign({ sub: 'before-rotation' }))).status).toBe(200);
        expect(idp.jwksRequests).toBe(before + 1);
        // A minute later the IdP signs with a new key: its unknown kid fetches the set again.
        const later = Date.now() + 61_000;
        clock.mockImplementation(() => later);
        const next = newRsaKey();
        idp.keys = [next, ...idp.keys];
        expect((await whoami(idp.sign({ sub: 'rotated' }, next))).status).toBe(200);
        expect(idp.jwksRequests).toBe(before + 2);
        // Within the minute after that fetch, made-up kids do not reach the IdP at all.
        // One key under forty made-up kids: generating forty RSA keys would take seconds.
        const stranger = newRsaKey();
        const flood = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            whoami(idp.sign({}, { ...stranger, kid: `made-up-${i}` })),
          ),
        );
        expect(flood.every((r) => r.status === 401)).toBe(true);
        expect(idp.jwksRequests).toBe(before + 2);
      } finally {
        clock.mockRestore();
        await useJwks();
      }
    });

    it('maps the username through an anchored regex, and refuses a claim it does not match', async () => {
      await useJwks({ usernameClaim: 'profile.email', usernameRegex: '([a-z.]+)@example\\.com' });
      try {
        const ok = await whoami(idp.sign({ profile: { email: 'dave.jones@example.com' } }));
        expect(ok.body.username).toBe('dave.jones');
        const partial = await whoami(
          idp.sign({ profile: { email: 'dave@example.com.evil.test' } }),
        );
        expect(partial.status).toBe(401);
      } finally {
        await useJwks();
      }
    });

    it('with mapToLocalUser, the local user of that name and its groups are used', async () => {
      const group = await newGroup(t);
      const local = await newUser(t, { groups: [group] });
      await useJwks({ mapToLocalUser: true });
      try {
        const res = await whoami(idp.sign({ sub: local.username, groups: ['from-idp'] }));
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          username: local.username,
          authMethod: 'external',
          groups: [group],
        });
      } finally {
        await useJwks({ mapToLocalUser: false });
      }
    });

    it('an external caller can neither mint API tokens nor administer through a name match', async () => {
      const minted = await http(`${t.url}/tokens`, {
        method: 'POST',
        headers: { authorization: bearer(idp.sign({ sub: 'kim' })) },
        json: { name: 'from-idp' },
      });
      expect(minted.status).toBe(403);
      expect(minted.body.code).toBe('external_token_not_allowed');
      // Nor "log out" a session that does not exist: the token would go on working.
      const kim = idp.sign({ sub: 'kim' });
      const logout = await http(`${t.url}/system/logout`, {
        method: 'POST',
        headers: { authorization: bearer(kim) },
      });
      expect(logout.status).toBe(403);
      expect(logout.body.code).toBe('external_token_not_allowed');
      await useJwks({ mapToLocalUser: true });
      try {
        const asAdmin = await http(`${t.url}/admin/settings`, {
          headers: { authorization: bearer(idp.sign({ sub: ADMIN_USERNAME })) },
        });
        expect(asAdmin.status).toBe(403);
        expect(asAdmin.body.code).toBe('admin_mapping_refused');
      } finally {
        await useJwks({ mapToLocalUser: false });
      }
    });

    describe('mapToLocalUser and administrators', () => {
      const decide = (token: string) =>
        http(`${t.url}/authz/decision`, {
          headers: {
            authorization: bearer(token),
            'x-original-method': 'GET',
            'x-original-uri': '/rest/api/2/myself',
          },
        });
      afterEach(() => useJwks({ mapToLocalUser: false, allowAdminMapping: false }));

      it('allowAdminMapping is off by default, and only a boolean', async () => {
        const settings = await http(`${t.url}/admin/settings`, {
          headers: { authorization: adminAuth() },
        });
        expect(settings.body.identityProviders[0].allowAdminMapping).toBe(false);
        expect(IDENTITY_PROVIDER_DEFAULTS.allowAdminMapping).toBe(false);
        const wrong = await http(`${t.url}/admin/settings`, {
          method: 'PATCH',
          headers: {
            authorization: adminAuth(),
            'if-match': settings.headers.get('etag')!,
          },
          json: { identityProviders: [jwksProvider({ allowAdminMapping: 'yes' })] },
        });
        expect(wrong.status).toBe(400);
        expect(wrong.body.errors.map((e: { field: string }) => e.field)).toEqual([
          'identityProviders[0].allowAdminMapping',
        ]);
      });

      it('a token naming an administrator is refused with 403 admin_mapping_refused, and audited', async () => {
        await useJwks({ mapToLocalUser: true });
        const token = idp.sign({ sub: ADMIN_USERNAME, jti: 'idp-admin-name' });
        const res = await decide(token);
        expect(res.status).toBe(403);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(res.body.code).toBe('admin_mapping_refused');
        expect(res.headers.get('x-warden-user')).toBeNull();
        expect((await whoami(token)).body.code).toBe('admin_mapping_refused');
        const test = await http(`${t.url}/admin/identity-providers/test`, {
          method: 'POST',
          headers: { authorization: adminAuth() },
          json: { token },
        });
        expect(test.body).toMatchObject({
          provider: 'corp',
          valid: false,
          reason: 'admin_mapping_refused',
        });
        const rows = await auditEvents(t, { event: 'decision.denied' });
        expect(rows).toContainEqual(
          expect.objectContaining({
            outcome: 'denied',
            status: 403,
            reason: 'admin_mapping_refused',
            path: '/rest/api/2/myself',
          }),
        );
        // Without the mapping the same name is an IdP caller like any other, never an admin.
        await useJwks({ mapToLocalUser: false });
        const unmapped = await decide(token);
        expect(unmapped.status).toBe(200);
        expect(unmapped.headers.get('x-warden-groups')).toBe('');
      });

      it('a mapped user made an administrator later is refused from then on, the same token too', async () => {
        const local = await newUser(t);
        await useJwks({ mapToLocalUser: true });
        const token = idp.sign({ sub: local.username });
        const before = await decide(token);
        expect(before.status).toBe(200);
        expect(before.headers.get('x-warden-user')).toBe(local.username);
        const promoted = await http(`${t.url}/admin/users/${local.username}`, {
          method: 'PATCH',
          headers: { authorization: adminAuth() },
          json: { groups: ['warden-admins'] },
        });
        expect(promoted.status).toBe(200);
        const after = await decide(token);
        expect(after.status).toBe(403);
        expect(after.body.code).toBe('admin_mapping_refused');
        const rows = await auditEvents(t, { event: 'decision.denied' });
        expect(rows).toContainEqual(
          expect.objectContaining({
            actor: local.username,
            authMethod: 'external',
            reason: 'admin_mapping_refused',
          }),
        );
      });

      it('with allowAdminMapping the administrator is named downstream, and still cannot administer', async () => {
        await useJwks({ mapToLocalUser: true, allowAdminMapping: true });
        const token = idp.sign({ sub: ADMIN_USERNAME });
        const res = await decide(token);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-warden-user')).toBe(ADMIN_USERNAME);
        expect(res.headers.get('x-warden-auth-method')).toBe('external');
        // Admin routes take no external caller whatever it maps to: its scopes exclude admin.
        for (const [method, path] of [
          ['GET', '/admin/settings'],
          ['GET', '/admin/users'],
          ['GET', '/admin/audit'],
        ]) {
          const asAdmin = await http(`${t.url}${path}`, {
            method,
            headers: { authorization: bearer(token) },
          });
          expect({ path, status: asAdmin.status }).toEqual({ path, status: 403 });
          expect(asAdmin.body.code).not.toBe('admin_mapping_refused');
        }
      });
    });

    it('usernames: control characters are refused; any letters reach the upstream header-safe', async () => {
      expect((await whoami(idp.sign({ sub: 'eve\r\nX-Injected: 1' }))).status).toBe(401);
      const res = await http(`${t.url}/authz/decision`, {
        headers: {
          authorization: bearer(idp.sign({ sub: '李雷' })),
          'x-original-method': 'GET',
          'x-original-uri': '/rest/api/2/myself',
        },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-warden-user')).toBe(encodeURIComponent('李雷'));
      expect(res.body.user).toBe('李雷');
    });

    it('rate limits the subject, not the token: a new token from the IdP brings no new budget', async () => {
      await operatorPatch(t, { rateLimit: { requests: 2, windowSeconds: 60 } });
      try {
        const statuses = [];
        for (const jti of ['rl-1', 'rl-2', 'rl-3'])
          statuses.push((await whoami(idp.sign({ sub: 'rate-limited', jti }))).status);
        expect(statuses).toEqual([200, 200, 429]);
        // Another subject has a budget of its own.
        expect((await whoami(idp.sign({ sub: 'someone-else', jti: 'rl-4' }))).status).toBe(200);
      } finally {
        await operatorPatch(t, { rateLimit: DEFAULT_SETTINGS.rateLimit });
      }
    });

    it('drops a group name that is not well-formed text, and still answers the decision endpoint', async () => {
      const token = idp.sign({ sub: 'dana', groups: ['\ud800', 'qa', 'x\udfffy'] });
      expect((await whoami(token)).body.groups).toEqual(['qa']);
      const res = await http(`${t.url}/authz/decision`, {
        headers: {
          authorization: bearer(token),
          'x-original-method': 'GET',
          'x-original-uri': '/rest/api/2/myself',
        },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-warden-groups')).toBe('qa');
    });

    it('a repeated token is verified once and then remembered', async () => {
      const token = idp.sign({ sub: 'repeat' });
      for (let i = 0; i < 3; i++) expect((await whoami(token)).status).toBe(200);
    });
  });

  describe('an unreachable or misbehaving JWKS URL is a 503, never an allow', () => {
    it('a slow JWK set', async () => {
      idp.jwksDelayMs = 4000;
      try {
        await useJwks({ jwksUrl: `${idp.url}/jwks?slow` });
        const res = await whoami(idp.sign({}));
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('idp_unavailable');
        expect(res.body.detail).toContain('timed out');
      } finally {
        idp.jwksDelayMs = 0;
      }
    }, 15_000);

    it('a JWKS URL nobody answers: the caller is told so, not where, nor the network error', async () => {
      await useJwks({ jwksUrl: 'http://127.0.0.1:1/jwks' });
      const res = await whoami(idp.sign({}));
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('idp_unavailable');
      expect(res.body.detail).toContain('did not answer');
      expect(res.body.detail).not.toMatch(/127\.0\.0\.1|:1\b|ECONNREFUSED|fetch failed/);
    });

    it('an oversized JWK set', async () => {
      idp.jwksPaddingBytes = 400 * 1024;
      try {
        await useJwks({ jwksUrl: `${idp.url}/jwks?big` });
        const res = await whoami(idp.sign({}));
        expect(res.status).toBe(503);
        expect(res.body.detail).toContain('more than');
      } finally {
        idp.jwksPaddingBytes = 0;
      }
    });

    it('a JWKS URL on plain http is refused unless allowed', async () => {
      const strict = await startApp();
      try {
        const current = await http(`${strict.url}/admin/settings`, {
          headers: { authorization: adminAuth() },
        });
        const res = await http(`${strict.url}/admin/settings`, {
          method: 'PATCH',
          headers: { authorization: adminAuth(), 'if-match': current.headers.get('etag')! },
          json: { identityProviders: [jwksProvider()] },
        });
        expect(res.status).toBe(400);
        expect(res.body.errors).toEqual([
          expect.objectContaining({ field: 'identityProviders[0].jwksUrl' }),
        ]);
      } finally {
        await strict.close();
      }
    });
  });

  describe('the settings refuse an unusable or too-open configuration when saved', () => {
    const save = (...identityProviders: Record<string, unknown>[]) =>
      t.app
        .get(SettingsService)
        .patch({ identityProviders }, { ifMatch: '*', force: true, actor: { username: 'test' } });
    const fieldsOf = async (...entries: Record<string, unknown>[]) => {
      try {
        await save(...entries.map((entry, i) => ({ name: `idp-${i}`, ...entry })));
        return [];
      } catch (err) {
        return ((err as DomainError).extras.fields?.errors as { field: string }[]).map(
          (e) => e.field,
        );
      }
    };
    afterAll(() => useJwks());

    it('jwks and publicKey modes need an issuer and an audience (an IdP is often shared)', async () => {
      expect(
        await fieldsOf({
          enabled: true,
          mode: 'jwks',
          jwksUrl: `${idp.url}/jwks`,
          issuer: null,
          audience: null,
        }),
      ).toEqual(['identityProviders[0].issuer', 'identityProviders[0].audience']);
    });

    it("the issuer is never Warden's own", async () => {
      expect(await fieldsOf({ enabled: false, issuer: t.config.issuer })).toEqual([
        'identityProviders[0].issuer',
      ]);
    });

    it('a public key must parse and fit an allowed algorithm', async () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const base = { enabled: true, mode: 'publicKey', issuer: idp.issuer, audience: 'warden-api' };
      expect(await fieldsOf({ ...base, publicKey: 'not a key' })).toEqual([
        'identityProviders[0].publicKey',
      ]);
      expect(
        await fieldsOf({
          ...base,
          algorithms: ['RS256'],
          publicKey: ec.publicKey.export({ type: 'spki', format: 'pem' }),
        }),
      ).toEqual(['identityProviders[0].publicKey']);
    });

    it('names and issuers are unique; EdDSA, HS256 and bad names are refused by field', async () => {
      const base = jwksProvider();
      expect(
        await fieldsOf(base, { ...base, name: 'corp', issuer: 'https://other.example/' }),
      ).toEqual(['identityProviders[1].name']);
      expect(await fieldsOf(base, { ...base, name: 'second' })).toEqual([
        'identityProviders[1].issuer',
      ]);
      expect(await fieldsOf(base, { ...base, issuer: 'x', algorithms: ['EdDSA'] })).toEqual([
        'identityProviders[1].algorithms',
      ]);
      expect(await fieldsOf({ ...base, algorithms: ['HS256'] })).toEqual([
        'identityProviders[0].algorithms',
      ]);
      expect(
        await fieldsOf({ ...base, name: 'no spaces' }, { ...base, name: 'x'.repeat(65) }),
      ).toEqual(['identityProviders[0].name', 'identityProviders[1].name']);
    });

    it('two introspection providers whose opaqueTokens could claim one token are refused', async () => {
      const asked = (opaqueTokens: string, issuer: string) => ({
        enabled: true,
        mode: 'introspection',
        introspectionUrl: `${idp.url}/introspect`,
        issuer,
        opaqueTokens,
      });
      const a = asked('^idp_[A-Za-z0-9]{40}$', 'https://a.example/');
      expect(await fieldsOf(a, asked('^idp_[A-Za-z0-9]{40}$', 'https://b.example/'))).toEqual([
        'identityProviders[1].opaqueTokens',
      ]);
      expect(await fieldsOf(a, asked('^[A-Za-z0-9_]{44}$', 'https://b.example/'))).toEqual([
        'identityProviders[1].opaqueTokens',
      ]);
      expect(await fieldsOf(a, asked('^oth_[A-Za-z0-9]{40}$', 'https://b.example/'))).toEqual([]);
    });
  });

  describe('publicKey mode', () => {
    it('verifies with a PEM public key; ES256 is refused while only RS256 is allowed', async () => {
      const key = newRsaKey('pem');
      await useJwks({
        mode: 'publicKey',
        jwksUrl: null,
        publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }),
      });
      expect((await whoami(idp.sign({ sub: 'erin' }, key))).body.username).toBe('erin');
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const es = idp.sign({}, { kid: 'pem', alg: 'ES256', ...ec });
      expect((await whoami(es)).status).toBe(401);
    });
  });

  describe('publicKey mode with an X.509 certificate', () => {
    it("verifies with the certificate's key, and not once the certificate has expired", async () => {
      const dir = mkdtempSync(join(tmpdir(), 'warden-cert-'));
      try {
        const made = spawnSync('openssl', [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=idp.example.test',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ]);
        expect(made.status).toBe(0);
        const privateKey = createPrivateKey(readFileSync(join(dir, 'key.pem')));
        const certificate = readFileSync(join(dir, 'cert.pem'), 'utf8');
        await useJwks({ mode: 'publicKey', jwksUrl: null, publicKey: certificate });
        const key = {
          kid: 'cert',
          alg: 'RS256' as const,
          privateKey,
          publicKey: createPublicKey(privateKey),
        };
        expect((await whoami(idp.sign({ sub: 'mona' }, key))).body.username).toBe('mona');
        // Two days on the certificate has expired (a token from then, so only the certificate fails).
        const later = Date.now() + 2 * 86_400_000;
        const clock = jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => later);
        try {
          const token = signJws(
            { typ: 'JWT' },
            {
              iss: idp.issuer,
              aud: 'warden-api',
              sub: 'mona-later',
              exp: Math.floor(later / 1000) + 300,
            },
            { alg: 'RS256', key: privateKey },
          );
          expect((await whoami(token)).status).toBe(401);
          const why = await http(`${t.url}/admin/identity-providers/test`, {
            method: 'POST',
            headers: { authorization: adminAuth() },
            json: { token },
          });
          expect(why.body).toMatchObject({ provider: 'corp', valid: false, reason: 'unknown_key' });
          expect(why.body.detail).toContain('validity period');
        } finally {
          clock.mockRestore();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('introspection mode', () => {
    // Native tokens are allowed (the default): only tokens matching the pattern go to the IdP.
    const useIntrospection = (seconds: number) =>
      useProviders({
        name: 'asked',
        enabled: true,
        mode: 'introspection',
        introspectionUrl: `${idp.url}/introspect`,
        clientId: idp.client.id,
        clientSecret: idp.client.secret,
        issuer: idp.issuer,
        audience: null,
        usernameClaim: 'username',
        usernameRegex: null,
        groupsClaim: 'groups',
        introspectionCacheSeconds: seconds,
        opaqueTokens: '^(?:opaque|made-up)-[A-Za-z0-9-]+$',
      });
    const exp = () => Math.floor(Date.now() / 1000) + 300;

    it('an active opaque token is let in; an inactive one is a 401', async () => {
      await useIntrospection(60);
      idp.active.set('opaque-1', {
        active: true,
        username: 'frank',
        iss: idp.issuer,
        exp: exp(),
        groups: 'a b',
      });
      const ok = await whoami('opaque-1');
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ username: 'frank', groups: ['a', 'b'] });
      expect((await whoami('opaque-unknown')).status).toBe(401);
    });

    it('answers are reused for the TTL; with TTL 0 a revoked token stops at once', async () => {
      await useIntrospection(60);
      idp.active.set('opaque-2', { active: true, username: 'gina', exp: exp() });
      const before = idp.introspectionRequests;
      expect((await whoami('opaque-2')).status).toBe(200);
      expect((await whoami('opaque-2')).status).toBe(200);
      expect(idp.introspectionRequests).toBe(before + 1);

      await useIntrospection(0);
      idp.active.set('opaque-3', { active: true, username: 'hank', exp: exp() });
      expect((await whoami('opaque-3')).status).toBe(200);
      idp.active.delete('opaque-3');
      expect((await whoami('opaque-3')).status).toBe(401);
    });

    it('made-up tokens cost the IdP a bounded load: one call per token, a cap on calls at once', async () => {
      await useIntrospection(60);
      const before = idp.introspectionRequests;
      // The same unknown token, repeated and at once: one call, then the inactive answer is kept.
      const same = await Promise.all(Array.from({ length: 20 }, () => whoami('made-up-same')));
      expect(same.every((r) => r.status === 401)).toBe(true);
      expect((await whoami('made-up-same')).status).toBe(401);
      expect(idp.introspectionRequests).toBe(before + 1);
      // Forty different ones against a slow IdP: 32 calls at most, the rest a 503.
      idp.introspectionDelayMs = 500;
      try {
        const flood = await Promise.all(
          Array.from({ length: 40 }, (_, i) => whoami(`made-up-${i}`)),
        );
        const statuses = flood.map((r) => r.status);
        expect(statuses.filter((code) => code === 401)).toHaveLength(32);
        expect(statuses.filter((code) => code === 503)).toHaveLength(8);
        expect(idp.introspectionRequests).toBe(before + 1 + 32);
      } finally {
        idp.introspectionDelayMs = 0;
      }
    });

    it('an answer that arrives after a settings change is used once, not remembered', async () => {
      await useIntrospection(60);
      idp.active.set('opaque-5', { active: true, username: 'lee', exp: exp() });
      idp.introspectionDelayMs = 400;
      try {
        const before = idp.introspectionRequests;
        const first = whoami('opaque-5');
        await new Promise((r) => setTimeout(r, 100));
        await useIntrospection(61); // the provider changed while its IdP is being asked
        expect((await first).status).toBe(200);
        idp.introspectionDelayMs = 0;
        expect((await whoami('opaque-5')).status).toBe(200);
        expect(idp.introspectionRequests).toBe(before + 2);
      } finally {
        idp.introspectionDelayMs = 0;
      }
    });

    it('an introspection endpoint that is down is a 503 problem, not a 500 and not an allow', async () => {
      await useIntrospection(0);
      idp.active.set('opaque-4', { active: true, username: 'ivy', exp: exp() });
      idp.introspectionDown = true;
      try {
        const res = await whoami('opaque-4');
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('idp_unavailable');
      } finally {
        idp.introspectionDown = false;
      }
    });
  });

  describe('Forge Remote', () => {
    const appId = 'ari:cloud:ecosystem::app/8f4c2a63-5cf3-4d1b-9d57-52b2e1b0b8d1';
    const installation = 'ari:cloud:ecosystem::installation/c3658f0f-8380-41e5-bb1e-68903f8efdca';
    const fit = (claims: Record<string, unknown> = {}) =>
      idp.sign({
        iss: 'forge/invocation-token',
        aud: appId,
        sub: undefined,
        app: {
          id: appId,
          installationId: installation,
          apiBaseUrl: 'https://api.atlassian.com/ex/jira/5b1d',
          environment: { type: 'PRODUCTION', id: 'e-1' },
          module: { type: 'xen:macro', key: 'm' },
        },
        principal: '557058:f58131cb-b67d-43c7-b30d-6b58d40bd077',
        ...claims,
      });
    const preset = (body: Record<string, unknown>, path = 'identity-providers') =>
      http(`${t.url}/admin/${path}/presets/forge-remote`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: body,
      });
    afterAll(() => useJwks());

    it("the preset adds a provider with Atlassian's JWK set, issuer and the app as audience, and leaves the others", async () => {
      await useJwks();
      expect((await preset({ appId: 'not-an-ari' })).status).toBe(400);
      expect((await preset({ appId, name: 'not a name' })).status).toBe(400);
      const res = await preset({ appId });
      expect(res.status).toBe(200);
      expect(res.body.identityProviders.map((p: { name: string }) => p.name)).toEqual([
        'corp',
        'forge-remote',
      ]);
      expect(res.body.identityProviders[1]).toMatchObject({
        enabled: true,
        mode: 'jwks',
        jwksUrl: 'https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json',
        issuer: 'forge/invocation-token',
        audience: appId,
        algorithms: ['RS256'],
        usernameClaim: 'app.installationId',
      });
    });

    it('the preset replaces a provider of the same name; the old route acts on "default"', async () => {
      await useJwks();
      const replaced = await preset({ appId, name: 'corp' });
      expect(replaced.status).toBe(200);
      expect(replaced.body.identityProviders).toEqual([
        expect.objectContaining({ name: 'corp', issuer: 'forge/invocation-token' }),
      ]);
      await useJwks();
      const old = await preset({ appId, caller: 'account' }, 'external-jwt');
      expect(old.status).toBe(200);
      expect(old.body.identityProviders.map((p: { name: string }) => p.name)).toEqual([
        'corp',
        'default',
      ]);
      expect(old.body.identityProviders[1]).toMatchObject({ usernameClaim: 'principal' });
    });

    it('an invocation token names the installation, with the app and account as context', async () => {
      await useProviders();
      await preset({ appId });
      // The test's own IdP stands in for Atlassian's key CDN.
      const [forge] = t.app.get(SettingsService).get().identityProviders;
      await useProviders({ ...forge, jwksUrl: `${idp.url}/jwks?forge` });
      const res = await whoami(fit());
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        username: installation,
        authMethod: 'external',
        invocation: {
          app: appId,
          installation,
          account: '557058:f58131cb-b67d-43c7-b30d-6b58d40bd077',
          environment: 'PRODUCTION',
        },
      });
      // Another app's token is for another audience.
      const other = fit({ aud: 'ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000' });
      expect((await whoami(other)).status).toBe(401);
    });
  });

  describe('several providers at once', () => {
    const partner = new FakeIdp('https://partner.example.test/');
    beforeAll(() => partner.start());
    afterAll(() => partner.stop());
    const partnerProvider = (extra: Record<string, unknown> = {}) =>
      jwksProvider({
        name: 'partner',
        issuer: partner.issuer,
        jwksUrl: `${partner.url}/jwks`,
        audience: 'warden-partner',
        usernameRegex: null,
        ...extra,
      });

    it("routes each token to the provider of its issuer, and one provider's change keeps the other's keys", async () => {
      await useProviders(jwksProvider({ jwksUrl: `${idp.url}/jwks?several` }), partnerProvider());
      const corpBefore = idp.jwksRequests;
      const partnerBefore = partner.jwksRequests;
      const corp = await whoami(idp.sign({ sub: 'from-corp' }));
      expect(corp.body).toMatchObject({ username: 'from-corp', authMethod: 'external' });
      const other = await whoami(partner.sign({ sub: 'from-partner', aud: 'warden-partner' }));
      expect(other.body).toMatchObject({ username: 'from-partner', authMethod: 'external' });
      expect([idp.jwksRequests, partner.jwksRequests]).toEqual([corpBefore + 1, partnerBefore + 1]);
      // Each provider's audience is its own: the corporate audience does not pass for the partner.
      expect((await whoami(partner.sign({ sub: 'p', aud: 'warden-api' }))).status).toBe(401);
      // A token signed by the partner's key but naming the corporate issuer is the corporate IdP's.
      const crossed = partner.sign({ iss: idp.issuer, aud: 'warden-api' });
      expect((await whoami(crossed)).status).toBe(401);

      // The partner's mapping changes: its key source is kept, the corporate one too.
      await useProviders(
        jwksProvider({ jwksUrl: `${idp.url}/jwks?several` }),
        partnerProvider({ usernameRegex: 'p-(.+)' }),
      );
      expect(
        (await whoami(partner.sign({ sub: 'p-lee', aud: 'warden-partner' }))).body,
      ).toMatchObject({
        username: 'lee',
      });
      expect((await whoami(idp.sign({ sub: 'again' }))).status).toBe(200);
      expect([idp.jwksRequests, partner.jwksRequests]).toEqual([corpBefore + 1, partnerBefore + 1]);
      // Its JWKS URL changes: only its keys are fetched anew.
      await useProviders(
        jwksProvider({ jwksUrl: `${idp.url}/jwks?several` }),
        partnerProvider({ jwksUrl: `${partner.url}/jwks?moved` }),
      );
      expect((await whoami(partner.sign({ sub: 'moved', aud: 'warden-partner' }))).status).toBe(
        200,
      );
      expect((await whoami(idp.sign({ sub: 'still' }))).status).toBe(200);
      expect([idp.jwksRequests, partner.jwksRequests]).toEqual([corpBefore + 1, partnerBefore + 2]);
      // Switched off, its tokens are no provider's.
      await useProviders(jwksProvider(), partnerProvider({ enabled: false }));
      expect((await whoami(partner.sign({ sub: 'off', aud: 'warden-partner' }))).status).toBe(401);
    });
  });

  describe('documents of the single-provider era', () => {
    afterAll(() => useJwks());

    it('a PATCH of externalJwt acts on the provider named "default" and leaves the others', async () => {
      await useJwks();
      await operatorPatch(t, {
        externalJwt: {
          enabled: true,
          mode: 'jwks',
          jwksUrl: `${idp.url}/jwks?legacy`,
          issuer: 'https://legacy.example.test/',
          audience: 'legacy-api',
        },
      });
      const settings = t.app.get(SettingsService).get();
      expect(settings.identityProviders.map((p) => p.name)).toEqual(['corp', 'default']);
      expect(settings.identityProviders[1]).toEqual({
        ...IDENTITY_PROVIDER_DEFAULTS,
        name: 'default',
        enabled: true,
        mode: 'jwks',
        jwksUrl: `${idp.url}/jwks?legacy`,
        issuer: 'https://legacy.example.test/',
        audience: 'legacy-api',
      });
      await operatorPatch(t, { externalJwt: { enabled: false } });
      expect(t.app.get(SettingsService).get().identityProviders[1].enabled).toBe(false);
      await operatorPatch(t, { externalJwt: null });
      expect(
        t.app
          .get(SettingsService)
          .get()
          .identityProviders.map((p) => p.name),
      ).toEqual(['corp']);
    });

    it('a stored externalJwt block with a sealed secret is moved, re-sealed and stored by the instance that loads it', async () => {
      const settings = t.app.get(SettingsService);
      const versionBefore = Number(settings.etag().replace(/"/g, ''));
      await storeSettingsDocument(t, {
        ...structuredClone(DEFAULT_SETTINGS),
        identityProviders: undefined,
        externalJwt: {
          enabled: true,
          mode: 'introspection',
          introspectionUrl: `${idp.url}/introspect`,
          clientId: idp.client.id,
          clientSecret: idp.client.secret,
          issuer: idp.issuer,
          audience: null,
          algorithms: ['RS256'],
          usernameClaim: 'username',
          usernameRegex: null,
          groupsClaim: null,
          introspectionCacheSeconds: 60,
          opaqueTokens: '^legacy-[a-z0-9]+$',
          mapToLocalUser: false,
        },
      });
      // Picked up by polling the version, upgraded, and stored once more (version + 2 in all).
      const etag = await eventually(
        async () => settings.etag(),
        (value) => value === `"${versionBefore + 2}"`,
      );
      expect(etag).toBe(`"${versionBefore + 2}"`);
      expect(settings.get().identityProviders).toEqual([
        expect.objectContaining({ name: 'default', clientSecret: idp.client.secret }),
      ]);
      const row = await t.dataSource
        .getRepository(SettingsEntity)
        .findOneByOrFail({ id: SETTINGS_ROW });
      const stored = JSON.parse(row.document);
      expect(stored.externalJwt).toBeUndefined();
      expect(stored.identityProviders[0].clientSecret).toMatch(/^v1\./);
      expect(
        new SecretBox(t.config.encryptionKey.key).openText(
          stored.identityProviders[0].clientSecret,
          'settings:identityProviders[].clientSecret',
        ),
      ).toBe(idp.client.secret);
      // And the secret works: the IdP checks the client's credentials.
      idp.active.set('legacy-1', { active: true, username: 'old-timer' });
      expect((await whoami('legacy-1')).body).toMatchObject({ username: 'old-timer' });
    });
  });

  describe('POST /admin/identity-providers/test', () => {
    beforeAll(() => useJwks());
    const check = (token: string, path = 'identity-providers') =>
      http(`${t.url}/admin/${path}/test`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: { token },
      });

    it('says valid and whom the token maps to, or why not, and never echoes the token', async () => {
      const good = idp.sign({ sub: 'jack', groups: ['ops'] });
      const ok = await check(good);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({
        provider: 'corp',
        valid: true,
        username: 'jack',
        groups: ['ops'],
      });
      expect(ok.text).not.toContain(good);
      // The route of the single-provider era answers the same.
      expect((await check(good, 'external-jwt')).body).toEqual(ok.body);
      const expired = idp.sign({ exp: Math.floor(Date.now() / 1000) - 600 });
      const late = await check(expired);
      expect(late.body).toMatchObject({ provider: 'corp', valid: false, reason: 'expired' });
      expect(late.body.detail).toEqual(expect.any(String));
      expect((await check(idp.sign({ aud: 'someone-else' }))).body).toMatchObject({
        provider: 'corp',
        valid: false,
        reason: 'wrong_audience',
      });
      expect((await check(idp.sign({ iss: 'https://evil.example/' }))).body).toMatchObject({
        provider: null,
        valid: false,
        reason: 'wrong_issuer',
      });
      expect((await check('not-any-providers-opaque-token')).body).toMatchObject({
        provider: null,
        valid: false,
        reason: 'no_provider',
      });
      const user = await newUser(t);
      const forbidden = await http(`${t.url}/admin/identity-providers/test`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`,
        },
        json: { token: good },
      });
      expect(forbidden.status).toBe(403);
    });
  });
});
