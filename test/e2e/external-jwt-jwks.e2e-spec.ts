import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Clock } from '../../src/common/clock';
import {
  DEFAULT_SETTINGS,
  IDENTITY_PROVIDER_DEFAULTS,
} from '../../src/settings/settings.defaults';
import { TestApp } from '../support/app';
import { adminAuth, login, newGroup, newUser } from '../support/factories';
import { bearer, http } from '../support/http';
import { newRsaKey } from '../support/idp';
import { auditEvents } from '../support/audit';
import { operatorPatch } from '../support/settings';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { useExternalIdpApp } from '../support/external-idp';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Tokens of an IdP's JWK set: what is accepted and refused, how the caller is mapped and limited. */
describe('external identity provider tokens: jwks mode', () => {
  const external = useExternalIdpApp();
  const { idp, whoami, jwksProvider, useJwks } = external;
  let t: TestApp;
  beforeAll(() => {
    t = external.t;
  });

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
});
