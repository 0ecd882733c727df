import { DATABASES, databaseReady, startApp, TestApp, itWhen } from '../support/app';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { adminAuth, login, newUser, TestUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { SettingsService } from '../../src/settings/settings.service';

async function waitFor(condition: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

describe.each(DATABASES)('settings document (%s)', (database) => {
  let t: TestApp;
  let user: TestUser;
  let ready = false;

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    t = await startApp({ database });
    user = await newUser(t);
  });
  afterAll(async () => t?.close());

  const maybe = itWhen(database);
  const read = () => http(`${t.url}/admin/settings`, { headers: { authorization: adminAuth() } });
  const write = (
    method: 'PUT' | 'PATCH',
    body: unknown,
    etag: string | null,
    query = '',
    auth = adminAuth(),
  ) =>
    http(`${t.url}/admin/settings${query}`, {
      method,
      headers: { authorization: auth, ...(etag ? { 'if-match': etag } : {}) },
      json: body,
    });
  const patch = async (body: unknown) => {
    const res = await write('PATCH', body, (await read()).headers.get('etag'));
    if (res.status !== 200) throw new Error(`${res.status} ${res.text}`);
    return res;
  };

  maybe('GET returns the whole document with an ETag', async () => {
    const res = await read();
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toMatch(/^"\d+"$/);
    expect(Object.keys(res.body).sort()).toEqual(
      [
        'apiTokens',
        'audit',
        'basicAuth',
        'bypass',
        'groups',
        'identityProviders',
        'ip',
        'keys',
        'nativeOAuthTokens',
        'publicApis',
        'rateLimit',
        'restApiAuthentication',
        'tokens',
        'upstreamSessions',
      ].sort(),
    );
    expect(res.body.tokens).toEqual({
      accessTtlSeconds: 900,
      refreshTtlSeconds: 604800,
      rotateRefreshTokens: false,
      reuseGraceSeconds: 30,
    });
  });

  maybe(
    'PATCH without If-Match is 428, with a stale one 412, with the current one 200 and a new ETag',
    async () => {
      const missing = await write('PATCH', { rateLimit: { requests: 100 } }, null);
      expect(missing.status).toBe(428);
      expect(missing.body.code).toBe('precondition_required');
      const etag = (await read()).headers.get('etag')!;
      const ok = await write('PATCH', { rateLimit: { requests: 100 } }, etag);
      expect(ok.status).toBe(200);
      expect(ok.body.rateLimit.requests).toBe(100);
      expect(ok.headers.get('etag')).not.toBe(etag);
      const stale = await write('PATCH', { rateLimit: { requests: 200 } }, etag);
      expect(stale.status).toBe(412);
      expect(stale.body.code).toBe('precondition_failed');
      expect((await read()).body.rateLimit.requests).toBe(100);
    },
  );

  maybe('concurrent PATCHes with the same If-Match: exactly one wins', async () => {
    const etag = (await read()).headers.get('etag')!;
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        write('PATCH', { rateLimit: { windowSeconds: 10 + i } }, etag),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412, 412, 412, 412]);
    const winner = results.find((r) => r.status === 200)!;
    expect((await read()).body.rateLimit.windowSeconds).toBe(winner.body.rateLimit.windowSeconds);
  });

  maybe(
    'PUT replaces the document; an incomplete one is refused naming what is missing',
    async () => {
      const current = await read();
      const doc = { ...current.body, rateLimit: { ...current.body.rateLimit, requests: 321 } };
      const ok = await write('PUT', doc, current.headers.get('etag'));
      expect(ok.status).toBe(200);
      expect(ok.body.rateLimit.requests).toBe(321);
      const { basicAuth: _omitted, ...partial } = ok.body;
      const bad = await write('PUT', partial, ok.headers.get('etag'));
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field)).toContain('basicAuth');
    },
  );

  maybe('invalid documents are 400 with every bad field named, and nothing changes', async () => {
    const before = await read();
    const res = await write(
      'PATCH',
      {
        rateLimit: { requests: -1, windowSeconds: 'often' },
        ip: { allow: ['10.0.0.0/33', 'not-an-ip', '192.168.0.1'] },
        bypass: { paths: ['no-leading-slash', 'FETCH /x'] },
        audit: { purgeCron: 'every hour' },
        tokens: { accessTtlSeconds: 5 },
        identityProviders: [
          { name: 'corp', algorithms: ['none'] },
          { name: 'bad name', usernameRegex: '(' },
        ],
        unknownSection: { x: 1 },
      },
      before.headers.get('etag'),
    );
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    for (const field of [
      'rateLimit.requests',
      'rateLimit.windowSeconds',
      'ip.allow',
      'bypass.paths',
      'audit.purgeCron',
      'tokens.accessTtlSeconds',
      'identityProviders[0].algorithms',
      'identityProviders[1].name',
      'identityProviders[1].usernameRegex',
      'unknownSection',
    ]) {
      expect(fields).toContain(field);
    }
    const after = await read();
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
    expect(after.body).toEqual(before.body);
  });

  maybe(
    'a retention cron that parses but never fires (30 February) is a 400 naming audit.purgeCron; retention keeps its schedule',
    async () => {
      const before = await read();
      const res = await write(
        'PATCH',
        { audit: { purgeCron: '0 0 30 2 *' } },
        before.headers.get('etag'),
      );
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.detail).toContain('audit.purgeCron');
      expect(res.body.errors).toEqual([
        { field: 'audit.purgeCron', messages: [expect.stringContaining('fires')] },
      ]);
      const after = await read();
      expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
      const retention = await http(`${t.url}/admin/audit/retention`, {
        headers: { authorization: adminAuth() },
      });
      expect(retention.status).toBe(200);
      expect(retention.body.cron).toBe(before.body.audit.purgeCron);
      expect(Date.parse(retention.body.nextRunAt)).toBeGreaterThan(Date.now());
      // 29 February fires (in leap years): accepted.
      await patch({ audit: { purgeCron: '0 0 29 2 *' } });
      await patch({ audit: { purgeCron: before.body.audit.purgeCron } });
    },
  );

  maybe('a section sent as an array is a 400 naming it, and nothing is stored', async () => {
    const before = await read();
    // identityProviders is the one list: an object or a list of non-objects is refused there.
    const sections = Object.keys(before.body).filter((key) => key !== 'identityProviders');
    for (const section of sections) {
      for (const value of [[], [{ enabled: false }]]) {
        const res = await write('PATCH', { [section]: value }, before.headers.get('etag'));
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
        expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(section);
      }
    }
    for (const [value, field] of [
      [{ name: 'corp' }, 'identityProviders'],
      [['corp'], 'identityProviders'],
      [[{ name: 'corp' }, 42], 'identityProviders'],
    ] as const) {
      const res = await write('PATCH', { identityProviders: value }, before.headers.get('etag'));
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const after = await read();
    expect(after.headers.get('etag')).toBe(before.headers.get('etag'));
    expect(after.body).toEqual(before.body);
    // Authentication still holds: nothing read `restApiAuthentication: []` as switched off.
    expect((await http(`${t.url}/system/whoami`)).status).toBe(401);
  });

  maybe('a non-object body or a non-admin caller is refused', async () => {
    const etag = (await read()).headers.get('etag');
    expect((await write('PATCH', [1, 2], etag)).status).toBe(400);
    expect(
      (
        await write(
          'PATCH',
          { basicAuth: { enabled: false } },
          etag,
          '',
          basic(user.username, user.password),
        )
      ).status,
    ).toBe(403);
  });

  maybe(
    'secrets are masked when read and kept when the mask is written back; sealed at rest',
    async () => {
      await patch({
        identityProviders: [
          { name: 'corp', clientSecret: 's3cr3t-value-of-the-idp' },
          { name: 'partner', clientSecret: 'other-s3cr3t-of-the-partner' },
        ],
      });
      const res = await read();
      expect(
        res.body.identityProviders.map((p: { clientSecret: string }) => p.clientSecret),
      ).toEqual(['********', '********']);
      expect(res.text).not.toContain('s3cr3t');
      // Written back masked, in another order: each entry keeps its own secret, by name.
      res.body.identityProviders.reverse();
      const put = await write('PUT', res.body, res.headers.get('etag'));
      expect(put.status).toBe(200);
      expect(
        t.app
          .get(SettingsService)
          .get()
          .identityProviders.map((p) => [p.name, p.clientSecret]),
      ).toEqual([
        ['partner', 'other-s3cr3t-of-the-partner'],
        ['corp', 's3cr3t-value-of-the-idp'],
      ]);
      const [row] = await t.dataSource.query(`SELECT document FROM settings WHERE id = 'global'`);
      expect(row.document).not.toContain('s3cr3t');
      const doc = JSON.parse(row.document);
      expect(doc.identityProviders[0].clientSecret).toMatch(/^v1\./);
      expect(doc.identityProviders[1].clientSecret).toMatch(/^v1\./);
      await patch({ identityProviders: [{ name: 'corp', clientSecret: null }] });
      expect((await read()).body.identityProviders[0].clientSecret).toBeNull();
      await patch({ identityProviders: [] });
    },
  );

  maybe(
    "lock-out: an allow-list without the admin's own address is 409 unless forced",
    async () => {
      const etag = (await read()).headers.get('etag');
      const refused = await write('PATCH', { ip: { allow: ['10.9.9.0/24'] } }, etag);
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('lockout');
      expect(refused.body.detail).toContain('127.0.0.1');
      const allowed = await write('PATCH', { ip: { allow: ['127.0.0.0/8', '::1/128'] } }, etag);
      expect(allowed.status).toBe(200);
      const forced = await write(
        'PATCH',
        { ip: { allow: ['10.9.9.0/24'] } },
        allowed.headers.get('etag'),
        '?force=true',
      );
      expect(forced.status).toBe(200);
      // Forced means applied: the admin is now shut out too, and only the CLI gets them back in.
      const shutOut = await read();
      expect(shutOut.status).toBe(403);
      expect(shutOut.body.code).toBe('ip_not_allowed');
      const { runCli } = await import('../../src/cli');
      const { Readable } = await import('node:stream');
      const out: string[] = [];
      expect(
        await runCli(['clear-allow-list'], {
          env: t.env,
          stdin: Object.assign(Readable.from([]), { isTTY: true }),
          out: (x) => out.push(x),
        }),
      ).toBe(0);
      expect(out.join('')).toMatch(/cleared/);
      await waitFor(async () => (await read()).status === 200);
    },
  );

  maybe(
    'lock-out: switching off the kind of credential the admin is using is 409 unless forced',
    async () => {
      const etag = (await read()).headers.get('etag');
      const refused = await write('PATCH', { basicAuth: { enabled: false } }, etag);
      expect(refused.status).toBe(409);
      // An admin using a token may switch Basic off.
      const pair = await login(t, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });
      const viaToken = await write(
        'PATCH',
        { basicAuth: { enabled: false } },
        etag,
        '',
        bearer(pair.authentication),
      );
      expect(viaToken.status).toBe(200);
      await write(
        'PATCH',
        { basicAuth: { enabled: true } },
        viaToken.headers.get('etag'),
        '',
        bearer(pair.authentication),
      );
    },
  );

  maybe(
    'basicAuth off: passwords refused on API calls, /system/auth still takes one, tokens still work',
    async () => {
      const token = (
        await http(`${t.url}/tokens`, {
          method: 'POST',
          headers: { authorization: basic(user.username, user.password) },
          json: { name: 'cloud-style' },
        })
      ).body.token;
      await patch({ basicAuth: { enabled: false } }).catch(async () => {
        const etag = (await read()).headers.get('etag');
        await write('PATCH', { basicAuth: { enabled: false } }, etag, '?force=true');
      });
      try {
        const api = await http(`${t.url}/system/whoami`, {
          headers: { authorization: basic(user.username, user.password) },
        });
        expect(api.status).toBe(401);
        expect(api.body.code).toBe('basic_auth_disabled');
        expect(
          (
            await http(`${t.url}/system/auth`, {
              headers: { authorization: basic(user.username, user.password) },
            })
          ).status,
        ).toBe(200);
        expect(
          (
            await http(`${t.url}/system/auth`, {
              method: 'POST',
              json: { username: user.username, password: user.password },
            })
          ).status,
        ).toBe(200);
        expect(
          (
            await http(`${t.url}/system/whoami`, {
              headers: { authorization: basic(user.username, token) },
            })
          ).status,
        ).toBe(200);
      } finally {
        const pair = await login(t, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });
        const etag = (
          await http(`${t.url}/admin/settings`, {
            headers: { authorization: bearer(pair.authentication) },
          })
        ).headers.get('etag');
        await write(
          'PATCH',
          { basicAuth: { enabled: true } },
          etag,
          '',
          bearer(pair.authentication),
        );
      }
      expect(
        (
          await http(`${t.url}/system/whoami`, {
            headers: { authorization: basic(user.username, user.password) },
          })
        ).status,
      ).toBe(200);
    },
  );

  maybe(
    'restApiAuthentication off: API routes open to anyone, administration still protected',
    async () => {
      await patch({ restApiAuthentication: { enabled: false } });
      try {
        const open = await http(`${t.url}/system/whoami`);
        expect(open.status).toBe(200);
        expect(open.body).toMatchObject({ username: 'anonymous', authMethod: 'anonymous' });
        expect((await http(`${t.url}/admin/users`)).status).toBe(401);
        expect((await http(`${t.url}/tokens`)).status).toBe(401);
      } finally {
        await patch({ restApiAuthentication: { enabled: true } });
      }
      expect((await http(`${t.url}/system/whoami`)).status).toBe(401);
    },
  );

  maybe('the tokens block drives lifetimes and rotation', async () => {
    await patch({
      tokens: { accessTtlSeconds: 120, refreshTtlSeconds: 3600, rotateRefreshTokens: false },
    });
    try {
      const pair = await login(t, user);
      const claims = JSON.parse(
        Buffer.from(pair.authentication.split('.')[1], 'base64url').toString(),
      );
      expect(claims.exp - claims.iat).toBe(120);
      const refreshClaims = JSON.parse(
        Buffer.from(pair.refresh.split('.')[1], 'base64url').toString(),
      );
      expect(refreshClaims.exp - refreshClaims.iat).toBe(3600);
      const renewed = await http(`${t.url}/system/reauth`, {
        headers: { authorization: pair.refresh },
      });
      expect(renewed.status).toBe(200);
      expect(renewed.body.refresh).toBeUndefined();
      // Without rotation the same refresh token keeps working.
      expect(
        (await http(`${t.url}/system/reauth`, { headers: { authorization: pair.refresh } })).status,
      ).toBe(200);
    } finally {
      await patch({
        tokens: { accessTtlSeconds: 900, refreshTtlSeconds: 604800, rotateRefreshTokens: false },
      });
    }
  });

  maybe('every change is recorded with its diff, secrets masked', async () => {
    const lines: unknown[] = [];
    const { AuditSink } = await import('../../src/audit/audit.port');
    const sink = t.app.get(AuditSink);
    const spy = jest.spyOn(sink, 'record').mockImplementation((e) => void lines.push(e));
    try {
      await patch({
        rateLimit: { requests: 777 },
        identityProviders: [{ name: 'corp', clientSecret: 'another-secret-123' }],
      });
    } finally {
      spy.mockRestore();
    }
    const event = lines.find((l) => (l as { event: string }).event === 'settings.changed') as {
      actor: string;
      details: { changes: Record<string, { from: unknown; to: unknown }> };
    };
    expect(event.actor).toBe(ADMIN_USERNAME);
    expect(event.details.changes['rateLimit.requests'].to).toBe(777);
    expect(JSON.stringify(event)).not.toContain('another-secret-123');
    // A provider added whole: its secret masked inside it.
    expect(event.details.changes['identityProviders[corp]'].to).toMatchObject({
      name: 'corp',
      clientSecret: '********',
    });
    await patch({ identityProviders: [] });
  });
});
