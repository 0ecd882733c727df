import Redis from 'ioredis';
import { RateLimiterService } from '../../src/restrictions/rate-limit/rate-limiter.service';
import { SettingsService } from '../../src/settings/settings.service';
import { InvalidationBus } from '../../src/common/invalidation/invalidation-bus';
import { RedisInvalidationBus } from '../../src/common/invalidation/redis-invalidation-bus';
import { startApp, TestApp, itWhen } from '../support/app';
import { login, newUser, TestUser } from '../support/factories';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { within } from '../support/eventually';
import { basic, bearer, http } from '../support/http';
import { requirePostgres } from '../support/postgres';
import { auditRow, seedAudit } from '../support/audit';
import { AuditRepository } from '../../src/audit/audit.repository';
import { awaitInvalidationSubscribers, REDIS_URL, requireRedis } from '../support/redis';
import { FakeAtlassian, newTenant } from '../support/atlassian';

const BASE_URL = 'https://warden.example.test';

describe('two instances on one PostgreSQL database and one Redis', () => {
  let a: TestApp;
  let b: TestApp;
  let user: TestUser;
  /** The bootstrap admin's access token, issued by A (both instances share the signing keys). */
  let adminAccess: string;
  let ready = false;
  const atlassian = new FakeAtlassian();

  beforeAll(async () => {
    // Both checks run, so that a missing PostgreSQL and a missing Redis are both reported.
    const postgres = await requirePostgres();
    const redis = await requireRedis();
    ready = postgres && redis;
    if (!ready) return;
    await atlassian.start();
    const connect = { WARDEN_BASE_URL: BASE_URL, CONNECT_KEYS_URL: atlassian.keysUrl };
    a = await startApp({ database: 'postgres', env: { REDIS_URL, ...connect } });
    // Not `database: 'postgres'`: that would create a second database. Only A's close drops it.
    b = await startApp({
      env: {
        DATABASE_URL: a.env.DATABASE_URL,
        WARDEN_ENCRYPTION_KEY: a.env.WARDEN_ENCRYPTION_KEY,
        REDIS_URL,
        ...connect,
      },
    });
    await Promise.all(
      [a, b].map((t) => (t.app.get(InvalidationBus) as RedisInvalidationBus).ready()),
    );
    await awaitInvalidationSubscribers(2);
    user = await newUser(a);
    adminAccess = (await login(a, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD }))
      .authentication;
  }, 60_000);

  afterAll(async () => {
    // B first: A's close drops the shared database.
    await b?.close();
    await a?.close();
    if (ready) await atlassian.stop();
  });

  const maybe = itWhen('postgres', 'redis');

  const whoami = (t: TestApp, authorization: string) =>
    http(`${t.url}/system/whoami`, { headers: { authorization } });

  const readSettings = (t: TestApp) =>
    http(`${t.url}/admin/settings`, { headers: { authorization: bearer(adminAccess) } });

  const patchSettings = (t: TestApp, ifMatch: string, patch: Record<string, unknown>) =>
    http(`${t.url}/admin/settings`, {
      method: 'PATCH',
      headers: { authorization: bearer(adminAccess), 'if-match': ifMatch },
      json: patch,
    });

  maybe('both instances share the database, the encryption key and the Redis bus', async () => {
    expect(b.env.DATABASE_URL).toBe(a.env.DATABASE_URL);
    expect(a.env.DATABASE_URL).toMatch(/^postgres/);
    expect(b.env.WARDEN_ENCRYPTION_KEY).toBe(a.env.WARDEN_ENCRYPTION_KEY);
    for (const t of [a, b]) {
      expect(t.config.redisUrl).toBeTruthy();
      expect(t.app.get(InvalidationBus)).toBeInstanceOf(RedisInvalidationBus);
    }
    // A token signed by A is accepted by B: B opened A's signing keys.
    const me = await whoami(b, bearer(adminAccess));
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(ADMIN_USERNAME);
  });

  maybe('a settings change made on A is obeyed by B within a second', async () => {
    const password = basic(user.username, user.password);
    const before = await whoami(b, password);
    expect(before.status).toBe(200);
    expect(before.body.authMethod).toBe('basic');

    const read = await readSettings(a);
    expect(read.status).toBe(200);
    const etag = read.headers.get('etag');
    expect(etag).toMatch(/^"\d+"$/);
    let reverted = false;
    try {
      const off = await patchSettings(a, etag!, { basicAuth: { enabled: false } });
      expect(off.status).toBe(200);
      expect(off.body.basicAuth.enabled).toBe(false);

      const refused = await within(
        'B refuses Basic after basicAuth.enabled=false on A',
        () => whoami(b, password),
        (r) => r.status === 401,
      );
      expect(refused.result.body.code).toBe('basic_auth_disabled');

      const on = await patchSettings(a, off.headers.get('etag')!, { basicAuth: { enabled: true } });
      expect(on.status).toBe(200);
      reverted = true;
      await within(
        'B accepts Basic again after the revert on A',
        () => whoami(b, password),
        (r) => r.status === 200,
      );
    } finally {
      if (!reverted) await patchSettings(a, '*', { basicAuth: { enabled: true } });
    }
  });

  maybe('an API token created on A works on B, and is refused by B once revoked on A', async () => {
    const password = basic(user.username, user.password);
    const created = await http(`${a.url}/tokens`, {
      method: 'POST',
      headers: { authorization: password },
      json: { name: 'two instances' },
    });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^wdn_/);

    // Twice: the second answer comes from B's memory of the verified token.
    for (let i = 0; i < 2; i++) {
      const ok = await whoami(b, bearer(token));
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ username: user.username, authMethod: 'api-token' });
    }

    const revoked = await http(`${a.url}/tokens/${created.body.id}`, {
      method: 'DELETE',
      headers: { authorization: password },
    });
    expect(revoked.status).toBe(204);

    await within(
      'B refuses the API token revoked on A',
      () => whoami(b, bearer(token)),
      (r) => r.status === 401,
    );
  });

  maybe('a session logged out on A ends on B within a second', async () => {
    const pair = await login(a, user);
    for (let i = 0; i < 2; i++) {
      const ok = await whoami(b, bearer(pair.authentication));
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ username: user.username, authMethod: 'access' });
    }

    const out = await http(`${a.url}/system/logout`, {
      method: 'POST',
      headers: { authorization: bearer(pair.authentication) },
    });
    expect(out.status).toBe(204);

    await within(
      'B refuses the access token of the session ended on A',
      () => whoami(b, bearer(pair.authentication)),
      (r) => r.status === 401,
    );
  });

  maybe(
    'of two concurrent PATCHes with the same If-Match, one on each instance, exactly one wins',
    async () => {
      const fromA = await readSettings(a);
      expect(fromA.status).toBe(200);
      const etag = fromA.headers.get('etag')!;
      // B must hold the same version, or its refusal would say nothing about the race.
      await within(
        'B reads the same settings version as A',
        () => readSettings(b),
        (r) => r.headers.get('etag') === etag,
      );

      const [onA, onB] = await Promise.all([
        patchSettings(a, etag, { audit: { retentionDays: 91 } }),
        patchSettings(b, etag, { audit: { retentionDays: 92 } }),
      ]);
      expect([onA.status, onB.status].sort()).toEqual([200, 412]);
      const loser = onA.status === 412 ? onA : onB;
      expect(loser.body.code).toBe('precondition_failed');

      // Both instances end on the winner's document.
      const winner = onA.status === 200 ? onA : onB;
      const days = winner.body.audit.retentionDays;
      expect([91, 92]).toContain(days);
      for (const t of [a, b]) {
        await within(
          'both instances hold the winning document',
          () => readSettings(t),
          (r) =>
            r.body.audit?.retentionDays === days &&
            r.headers.get('etag') === winner.headers.get('etag'),
        );
      }
    },
  );

  maybe('password guesses sent at once to both instances meet one budget of 10', async () => {
    const target = await newUser(a);
    const guess = (t: TestApp) =>
      http(`${t.url}/system/auth`, {
        headers: { authorization: basic(target.username, 'not-the-password-123') },
      });
    // Checks that succeed give their place back: more than 10 sign-ins in a row all pass.
    for (let i = 0; i < 12; i++) await login(i % 2 ? b : a, target);
    // 8 to each: under each instance's own count of checks under way, 16 over the shared one.
    const answers = await Promise.all(Array.from({ length: 8 }, () => [guess(a), guess(b)]).flat());
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(
      16 - statuses.filter((s) => s === 401).length,
    );
    for (const r of answers.filter((r) => r.status === 429))
      expect(r.body.code).toBe('login_rate_limited');
    // The budget is spent on both: the right password is refused too, on either instance.
    for (const t of [a, b]) {
      const right = await http(`${t.url}/system/auth`, {
        headers: { authorization: basic(target.username, target.password) },
      });
      expect(right.status).toBe(429);
    }
  });

  maybe('a check that ends after its window has gone leaves no count behind', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const username = `late-${Date.now()}`;
      const key = `warden:login-checks:${username}|198.51.100.7`;
      const end = await a.app.get(RateLimiterService).beginLogin(username, '198.51.100.7');
      expect(await redis.get(key)).toBe('1');
      // The window ends while the check is under way…
      await redis.del(key);
      end(false);
      // …and giving its place back does not make a key of its own (-1, never expiring).
      await new Promise((r) => setTimeout(r, 200));
      expect(await redis.exists(key)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  maybe('two instances draw on one rate-limit budget per credential', async () => {
    const walker = await newUser(a);
    const pair = await login(a, walker);
    const etag = (await readSettings(a)).headers.get('etag')!;
    const set = await patchSettings(a, etag, { rateLimit: { requests: 4, windowSeconds: 60 } });
    expect(set.status).toBe(200);
    try {
      // Observed in-process: the admin's own reads count against the tiny budget too.
      await within(
        'B applies the new budget',
        async () => b.app.get(SettingsService).get().rateLimit.requests,
        (n) => n === 4,
      );
      const statuses: number[] = [];
      for (const t of [a, b, a, b, a, b])
        statuses.push((await whoami(t, bearer(pair.authentication))).status);
      // Four requests in all, whichever instance answered them; then 429 on both.
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await a.app
        .get(SettingsService)
        .patch(
          { rateLimit: { requests: 600 } },
          { ifMatch: '*', force: true, actor: { username: 'test' } },
        );
    }
  });

  maybe('a group change made on A reaches tokens in use on B within a second', async () => {
    const group = `grp-${Date.now()}`;
    expect(
      (
        await http(`${a.url}/admin/groups`, {
          method: 'POST',
          headers: { authorization: bearer(adminAccess) },
          json: { name: group },
        })
      ).status,
    ).toBe(201);
    const member = await newUser(a);
    const pair = await login(a, member);
    await a.app
      .get(SettingsService)
      .patch(
        { groups: { apiAccess: [group] } },
        { ifMatch: '*', force: true, actor: { username: 'test' } },
      );
    try {
      await within(
        'B refuses the non-member',
        () => whoami(b, bearer(pair.authentication)),
        (r) => r.status === 403,
      );
      const added = await http(`${a.url}/admin/users/${member.username}`, {
        method: 'PATCH',
        headers: { authorization: bearer(adminAccess) },
        json: { groups: [group] },
      });
      expect(added.status).toBe(200);
      await within(
        'B lets the new member in',
        () => whoami(b, bearer(pair.authentication)),
        (r) => r.status === 200,
      );
      expect((await whoami(b, bearer(pair.authentication))).body.groups).toEqual([group]);
    } finally {
      await a.app
        .get(SettingsService)
        .patch(
          { groups: { apiAccess: [] } },
          { ifMatch: '*', force: true, actor: { username: 'test' } },
        );
    }
  });

  maybe('the audit retention runs on one instance at a time, whichever asks', async () => {
    const old = Date.now() - 400 * 86_400_000;
    // Enough rows for a run of well over a few hundred milliseconds (batches with pauses).
    await seedAudit(
      a,
      Array.from({ length: 30_000 }, (_, i) =>
        auditRow({ at: new Date(old + i), requestId: `lock-${i}` }),
      ),
    );
    const run = (t: TestApp) =>
      http(`${t.url}/admin/audit/retention/run`, {
        method: 'POST',
        headers: { authorization: bearer(adminAccess) },
      });
    const [fromA, fromB] = await Promise.all([run(a), run(b)]);
    expect([fromA.status, fromB.status]).toEqual([200, 200]);
    const ran = [fromA.body, fromB.body].filter((r) => r.ran);
    expect(ran).toHaveLength(1);
    expect(ran[0].run.deletedByAge).toBeGreaterThanOrEqual(30_000);
    expect(await a.app.get(AuditRepository).count({ to: new Date(old + 30_000) })).toBe(0);
  });

  maybe(
    'a Connect install, uninstall or admin switch on one instance holds on the other at once',
    async () => {
      const tenant = newTenant();
      const lifecycle = (t: TestApp, event: 'installed' | 'uninstalled') =>
        http(`${t.url}/connect/${event}`, {
          method: 'POST',
          headers: {
            authorization: `JWT ${atlassian.lifecycleToken(tenant.clientKey, BASE_URL, `/connect/${event}`)}`,
          },
          json: { ...atlassian.installPayload(tenant), eventType: event },
        });
      const connectWhoami = (t: TestApp) =>
        http(`${t.url}/connect/whoami`, {
          headers: {
            authorization: `JWT ${FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami')}`,
          },
        });
      expect((await connectWhoami(b)).status).toBe(401);
      expect((await lifecycle(a, 'installed')).status).toBe(204);
      await within(
        'B accepts the tenant A installed',
        () => connectWhoami(b),
        (r) => r.status === 200,
      );
      // A second later: the next lifecycle token must not be older than the last one accepted.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await lifecycle(b, 'uninstalled')).status).toBe(204);
      await within(
        'A refuses the tenant B uninstalled',
        () => connectWhoami(a),
        (r) => r.status === 401,
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect((await lifecycle(a, 'installed')).status).toBe(204);
      await within(
        'B accepts the reinstalled tenant',
        () => connectWhoami(b),
        (r) => r.status === 200,
      );
      const off = await http(
        `${a.url}/admin/connect/tenants/${encodeURIComponent(tenant.clientKey)}`,
        {
          method: 'PATCH',
          headers: { authorization: bearer(adminAccess) },
          json: { enabled: false },
        },
      );
      expect(off.status).toBe(200);
      await within(
        'B refuses the tenant A disabled',
        () => connectWhoami(b),
        (r) => r.status === 401,
      );
    },
  );
});
