import { DATABASES, databaseReady, startApp, TestApp, itWhen } from '../support/app';
import { AuditWriter } from '../../src/audit/audit-writer.service';
import { SettingsService } from '../../src/settings/settings.service';
import { auditEvents, rawAuditTable } from '../support/audit';
import { adminAuth, login, newGroup, newUser, Pair, TestUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { operatorPatch, patchSettings } from '../support/settings';

describe.each(DATABASES)('audit events (%s)', (database) => {
  let t: TestApp;
  let user: TestUser;
  let ready = false;
  /** Every secret the tests hand to Warden; none may reach an audit row. */
  const secrets: string[] = [];

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    // Rotation on: the replayed-refresh event exists only then.
    t = await startApp({ database, settings: { tokens: { rotateRefreshTokens: true } } });
    user = await newUser(t);
    secrets.push(user.password);
  });
  afterAll(async () => t?.close());

  const maybe = itWhen(database);
  const one = async (query: Record<string, string>) => {
    const rows = await auditEvents(t, query);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    return rows[0];
  };
  const keep = (pair: Pair) => {
    secrets.push(pair.authentication, pair.refresh);
    return pair;
  };

  maybe('a sign-in, a failed one, a refresh, a replayed refresh and a logout', async () => {
    const gen1 = keep(await login(t, user));
    expect(await one({ event: 'auth.login.succeeded', actor: user.username })).toMatchObject({
      outcome: 'success',
      authMethod: 'basic',
      ip: '127.0.0.1',
      path: '/system/auth',
    });

    const bad = await http(`${t.url}/system/auth`, {
      headers: { authorization: basic(user.username, 'not-the-password') },
    });
    expect(bad.status).toBe(401);
    expect(await one({ event: 'auth.login.failed', actor: user.username })).toMatchObject({
      outcome: 'failure',
      status: 401,
      requestId: bad.headers.get('x-request-id'),
    });

    const gen2 = keep(
      (
        await http<Pair>(`${t.url}/system/reauth`, {
          headers: { authorization: bearer(gen1.refresh) },
        })
      ).body,
    );
    keep(
      (
        await http<Pair>(`${t.url}/system/reauth`, {
          headers: { authorization: bearer(gen2.refresh) },
        })
      ).body,
    );
    expect((await auditEvents(t, { event: 'auth.refreshed', actor: user.username })).length).toBe(
      2,
    );

    const replay = await http(`${t.url}/system/reauth`, {
      headers: { authorization: bearer(gen1.refresh) },
    });
    expect(replay.status).toBe(401);
    expect(await one({ event: 'auth.refresh_reuse_detected' })).toMatchObject({
      actor: user.username,
      outcome: 'denied',
      reason: 'refresh_reuse',
    });

    const fresh = keep(await login(t, user));
    const out = await http(`${t.url}/system/logout`, {
      method: 'POST',
      headers: { authorization: bearer(fresh.authentication) },
    });
    expect(out.status).toBeLessThan(300);
    expect(await one({ event: 'auth.logout', actor: user.username })).toMatchObject({
      outcome: 'success',
    });
  });

  maybe(
    'every decision on a protected route, allowed with its status or denied with its rule',
    async () => {
      const pair = keep(await login(t, user));
      const ok = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(pair.authentication), 'x-request-id': 'audit-allowed-1' },
      });
      expect(ok.status).toBe(200);
      expect(await one({ event: 'access.allowed', actor: user.username })).toMatchObject({
        authMethod: 'access',
        method: 'GET',
        path: '/system/whoami',
        status: 200,
        requestId: 'audit-allowed-1',
        outcome: 'allowed',
      });

      const forged = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(`${pair.authentication.slice(0, -4)}AAAA`) },
      });
      expect(forged.status).toBe(401);
      expect(await one({ event: 'access.denied', outcome: 'denied' })).toMatchObject({
        status: 401,
        authMethod: 'bearer',
        actor: null,
        reason: forged.body.code,
      });

      // A known caller refused by a rule is named in the row.
      const group = await newGroup(t);
      await patchSettings(t, { groups: { apiAccess: [group] } });
      try {
        const refused = await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        });
        expect(refused.status).toBe(403);
        expect(await one({ event: 'access.denied', actor: user.username })).toMatchObject({
          status: 403,
          authMethod: 'access',
          reason: refused.body.code,
        });
      } finally {
        await patchSettings(t, { groups: { apiAccess: [] } });
      }
    },
  );

  maybe('every decision at the decision endpoint, with the original method and path', async () => {
    const pair = keep(await login(t, user));
    const ask = (authorization?: string) =>
      http(`${t.url}/authz/decision`, {
        headers: {
          ...(authorization ? { authorization } : {}),
          'x-original-method': 'POST',
          'x-original-uri': '/rest/api/2/issue?notify=false',
          'x-forwarded-for': '198.51.100.23',
        },
      });
    expect((await ask(bearer(pair.authentication))).status).toBe(200);
    expect(await one({ event: 'decision.allowed', actor: user.username })).toMatchObject({
      method: 'POST',
      path: '/rest/api/2/issue',
      status: 200,
      // The test client is a trusted proxy (loopback): the forwarded address is the client's.
      ip: '198.51.100.23',
    });
    expect((await ask()).status).toBe(401);
    expect(await one({ event: 'decision.denied', ip: '198.51.100.23' })).toMatchObject({
      status: 401,
      authMethod: 'none',
      reason: 'authentication_required',
    });
  });

  maybe('a caller over the rate limit is recorded as rate_limit.exceeded', async () => {
    const limited = await newUser(t);
    secrets.push(limited.password);
    // In process: with a budget of two, the admin's own API calls would be refused too.
    await operatorPatch(t, { rateLimit: { enabled: true, requests: 2, windowSeconds: 3600 } });
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const res = await http(`${t.url}/system/whoami`, {
          headers: { authorization: basic(limited.username, limited.password) },
        });
        statuses.push(res.status);
      }
    } finally {
      await operatorPatch(t, { rateLimit: { enabled: true, requests: 600, windowSeconds: 60 } });
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(await one({ event: 'rate_limit.exceeded', actor: limited.username })).toMatchObject({
      outcome: 'denied',
      status: 429,
      reason: 'rate_limited',
      authMethod: 'basic',
    });
  });

  maybe('token creation and revocation, user and group changes', async () => {
    const created = await http(`${t.url}/tokens`, {
      method: 'POST',
      headers: { authorization: basic(user.username, user.password) },
      json: { name: 'audited' },
    });
    expect(created.status).toBe(201);
    secrets.push(created.body.token);
    expect(await one({ event: 'token.created', actor: user.username })).toMatchObject({
      outcome: 'success',
      credentialId: created.body.id,
    });
    const revoked = await http(`${t.url}/tokens/${created.body.id}`, {
      method: 'DELETE',
      headers: { authorization: basic(user.username, user.password) },
    });
    expect(revoked.status).toBe(204);
    expect(await one({ event: 'token.revoked', actor: user.username })).toMatchObject({
      credentialId: created.body.id,
    });

    const group = await newGroup(t);
    const other = await newUser(t, { groups: [group] });
    secrets.push(other.password);
    const changed = await http(`${t.url}/admin/users/${other.username}`, {
      method: 'PATCH',
      headers: { authorization: adminAuth() },
      json: { password: 'a-new-password-for-audit-tests' },
    });
    expect(changed.status).toBe(200);
    secrets.push('a-new-password-for-audit-tests');
    const userEvents = await auditEvents(t, { event: 'user.*' });
    const names = userEvents.map((e) => e.event);
    expect(names).toEqual(expect.arrayContaining(['user.created', 'user.updated']));
    expect(
      userEvents.find((e) => e.event === 'user.created' && e.details?.username === other.username),
    ).toMatchObject({ actor: 'admin', outcome: 'success' });
    expect(await one({ event: 'group.created' })).toMatchObject({ details: { group } });
  });

  maybe('a settings change with its diff, secrets masked', async () => {
    const clientSecret = 'idp-client-secret-never-in-the-audit';
    secrets.push(clientSecret);
    await patchSettings(t, {
      identityProviders: [{ name: 'corp' }],
    });
    await patchSettings(t, {
      identityProviders: [
        {
          name: 'corp',
          clientSecret,
          clientId: 'warden',
          introspectionUrl: 'https://idp.example/introspect',
        },
      ],
    });
    const change = await one({ event: 'settings.changed' });
    expect(change).toMatchObject({ actor: 'admin', outcome: 'success' });
    const changes = JSON.stringify(change.details);
    expect(changes).toContain('identityProviders[corp].clientId');
    expect(changes).toContain('identityProviders[corp].clientSecret');
    expect(changes).not.toContain(clientSecret);
    // Replaced by another secret: still on record as a change, neither value shown.
    const rotated = 'idp-client-secret-rotated-never-shown';
    secrets.push(rotated);
    const [corp] = t.app.get(SettingsService).get().identityProviders;
    await patchSettings(t, { identityProviders: [{ ...corp, clientSecret: rotated }] });
    const rotation = await one({ event: 'settings.changed' });
    expect(rotation.details?.changes).toEqual({
      'identityProviders[corp].clientSecret': { from: '********', to: '********' },
    });
    expect(JSON.stringify(rotation.details)).not.toContain(rotated);
  });

  maybe(
    'switching the audit off stops decision rows, and the switch itself is recorded',
    async () => {
      const pair = keep(await login(t, user));
      await patchSettings(t, { audit: { enabled: false } });
      try {
        const before = (await auditEvents(t, { event: 'access.allowed', actor: user.username }))
          .length;
        expect(
          (
            await http(`${t.url}/system/whoami`, {
              headers: { authorization: bearer(pair.authentication) },
            })
          ).status,
        ).toBe(200);
        expect(
          (await auditEvents(t, { event: 'access.allowed', actor: user.username })).length,
        ).toBe(before);
        expect(JSON.stringify((await one({ event: 'settings.changed' })).details)).toContain(
          'audit.enabled',
        );
      } finally {
        await patchSettings(t, { audit: { enabled: true } });
      }
    },
  );

  maybe(
    '/metrics counts decisions by kind and outcome, latency by route, and the audit writer',
    async () => {
      const pair = keep(await login(t, user));
      await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(pair.authentication) },
      });
      await http(`${t.url}/system/whoami`, { headers: { authorization: bearer('not-a-token') } });
      await t.app.get(AuditWriter).flush();
      const res = await http(`${t.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const value = (series: string) => {
        const line = res.text.split('\n').find((l) => l.startsWith(`${series} `));
        return line === undefined ? undefined : Number(line.slice(series.length + 1));
      };
      expect(value('warden_decisions_total{kind="access",outcome="allowed"}')).toBeGreaterThan(0);
      expect(value('warden_decisions_total{kind="bearer",outcome="denied"}')).toBeGreaterThan(0);
      expect(
        value(
          'warden_http_request_duration_seconds_count{method="GET",route="/system/whoami",status="200"}',
        ),
      ).toBeGreaterThan(0);
      const stored = Number((await t.dataSource.query('SELECT COUNT(*) AS n FROM audit_log'))[0].n);
      expect(value('warden_audit_rows_flushed_total')).toBe(stored);
      expect(value('warden_audit_events_dropped_total')).toBe(0);
      // Everything was flushed above, and /metrics itself records nothing.
      expect(value('warden_audit_buffer_depth')).toBe(0);
      expect(res.text).toContain('warden_process_cpu_seconds_total');
      // Names no user: the metrics are for a scraper on the internal network.
      expect(res.text).not.toContain(user.username);
    },
  );

  maybe('no password, token or secret reaches any row', async () => {
    expect(secrets.length).toBeGreaterThan(10);
    const table = await rawAuditTable(t);
    for (const secret of secrets) expect(table).not.toContain(secret);
  });
});
