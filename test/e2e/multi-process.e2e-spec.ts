import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { itWhen } from '../support/app';
import { FakeAtlassian, newTenant } from '../support/atlassian';
import { ADMIN_PASSWORD, ADMIN_USERNAME, testConfig } from '../support/config';
import { eventually, within } from '../support/eventually';
import { login, newGroup, newUser, Pair, TestUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { createTestDatabase, requirePostgres } from '../support/postgres';
import { startWardenProcess, stopWardenProcess, WardenProcess } from '../support/process';
import { awaitInvalidationSubscribers, REDIS_URL, requireRedis } from '../support/redis';
import { patchSettings } from '../support/settings';

const BASE_URL = 'https://warden.example.test';
/** Three processes compile the sources on start; on two loaded cores that takes a while. */
const START_TIMEOUT_MS = 180_000;
/** A cron with seconds: every instance fires at the start of every second. */
const EVERY_SECOND = '* * * * * *';
const FIRING_MS = 1000;
/** Firings judged in the retention test, each one a chance for a second run. */
const FIRINGS = 6;
/** How far C's clock is ahead of A's and B's: well within token leeways, beyond a purge run. */
const CLOCK_SKEW_MS = 300;
/** Racing reauth rounds: enough that the two requests really overlap on some of them. */
const REAUTH_ROUNDS = 20;

interface Instance {
  name: string;
  url: string;
  process: WardenProcess;
}

describe('three Warden processes on one PostgreSQL database and one Redis', () => {
  let ready = false;
  const atlassian = new FakeAtlassian();
  let atlassianUp = false;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let removeDataDir: (() => void) | undefined;
  let db: Client | undefined;
  const instances: Instance[] = [];
  let a: Instance;
  let b: Instance;
  let c: Instance;
  /** The bootstrap admin's access token, issued by A; B and C share A's signing keys. */
  let adminAccess: string;

  beforeAll(async () => {
    // Both checks run, so that a missing PostgreSQL and a missing Redis are both reported.
    const postgres = await requirePostgres();
    const redis = await requireRedis();
    ready = postgres && redis;
    if (!ready) return;
    await atlassian.start();
    atlassianUp = true;
    database = await createTestDatabase();
    const { env, cleanup } = testConfig({
      DATABASE_URL: database.url,
      REDIS_URL,
      WARDEN_BASE_URL: BASE_URL,
      CONNECT_KEYS_URL: atlassian.keysUrl,
      LOG_LEVEL: 'warn',
    });
    removeDataDir = cleanup;
    const start = async (name: string, clockSkewMs = 0) => {
      const warden = await startWardenProcess(env, { clockSkewMs });
      const instance = { name, url: warden.url, process: warden };
      instances.push(instance);
      return instance;
    };
    // A alone first: it migrates the empty database and creates the signing key and the admin
    // that B and C then open, as a rolling start of a scaled deployment does.
    a = await start('A');
    // C's clock runs ahead, as another host's may: every guarantee here must hold regardless,
    // and C's cron ticks come well before the others' instead of within the same millisecond.
    const others = await Promise.allSettled([start('B'), start('C', CLOCK_SKEW_MS)]);
    for (const started of others) if (started.status === 'rejected') throw started.reason;
    [b, c] = instances.slice(1).sort((x, y) => x.name.localeCompare(y.name));
    await awaitInvalidationSubscribers(instances.length);
    db = new Client({ connectionString: database.url });
    await db.connect();
    adminAccess = (await login(a, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD }))
      .authentication;
    // Refresh-token rotation is opt-in; the family tests below are about it.
    await patchSettings(a, { tokens: { rotateRefreshTokens: true } }, bearer(adminAccess));
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    const ends = await Promise.all(instances.map((i) => stopWardenProcess(i.process)));
    await db?.end();
    await database?.drop();
    removeDataDir?.();
    if (atlassianUp) await atlassian.stop();
    // A graceful stop, not the SIGKILL that follows a hang.
    for (const end of ends) expect(['SIGTERM', 0]).toContain(end);
  }, 60_000);

  const maybe = itWhen('postgres', 'redis');
  const admin = () => bearer(adminAccess);

  const whoami = (t: Instance, authorization: string) =>
    http(`${t.url}/system/whoami`, { headers: { authorization } });

  const reauth = (t: Instance, refresh: string) =>
    http(`${t.url}/system/reauth`, { headers: { authorization: bearer(refresh) } });

  /** Every instance named must show `accept` within a second; they are watched side by side. */
  const everyWithin = <T>(
    what: string,
    on: Instance[],
    probe: (t: Instance) => Promise<T>,
    accept: (result: T) => boolean,
  ) => Promise.all(on.map((t) => within(`${t.name} ${what}`, () => probe(t), accept)));

  /** Waits until B and C hold A's settings version, so a restored document is in force everywhere. */
  async function settingsSettled(): Promise<void> {
    const read = (t: Instance) =>
      http(`${t.url}/admin/settings`, { headers: { authorization: admin() } });
    const etag = (await read(a)).headers.get('etag');
    expect(etag).toMatch(/^"\d+"$/);
    await everyWithin(
      `holds settings version ${etag}`,
      [b, c],
      read,
      (r) => r.headers.get('etag') === etag,
    );
  }

  async function newApiToken(
    t: Instance,
    user: TestUser,
    name: string,
  ): Promise<{ id: string; token: string }> {
    const created = await http(`${t.url}/tokens`, {
      method: 'POST',
      headers: { authorization: basic(user.username, user.password) },
      json: { name },
    });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^wdn_/);
    return { id: created.body.id, token: created.body.token };
  }

  maybe('the processes share the database, the signing keys and the Redis bus', async () => {
    expect(new Set(instances.map((i) => i.process.child.pid)).size).toBe(3);
    // A token signed by A is accepted by B and C: they opened A's signing keys.
    for (const t of [b, c]) {
      const me = await whoami(t, admin());
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ username: ADMIN_USERNAME, authMethod: 'access' });
    }
    const jwks = await Promise.all(instances.map((t) => http(`${t.url}/.well-known/jwks.json`)));
    expect(jwks[1].body).toEqual(jwks[0].body);
    expect(jwks[2].body).toEqual(jwks[0].body);
  });

  maybe('a settings change made on A is obeyed by B and C within a second', async () => {
    const user = await newUser(a);
    const { token } = await newApiToken(a, user, 'settings change');
    for (const t of [b, c]) expect((await whoami(t, bearer(token))).status).toBe(200);

    let reverted = false;
    try {
      await patchSettings(a, { apiTokens: { enabled: false } }, admin());
      const refused = await everyWithin(
        'refuses API tokens after apiTokens.enabled=false on A',
        instances,
        (t) => whoami(t, bearer(token)),
        (r) => r.status === 401,
      );
      for (const { result } of refused) expect(result.body.code).toBe('api_tokens_disabled');

      await patchSettings(a, { apiTokens: { enabled: true } }, admin());
      reverted = true;
      await everyWithin(
        'accepts API tokens again after the revert on A',
        instances,
        (t) => whoami(t, bearer(token)),
        (r) => r.status === 200,
      );
    } finally {
      if (!reverted) await patchSettings(a, { apiTokens: { enabled: true } }, admin());
    }
  });

  maybe('a group change made on A reaches tokens in use on B and C within a second', async () => {
    const group = await newGroup(a);
    const member = await newUser(a);
    const pair = await login(a, member);
    const call = (t: Instance) => whoami(t, bearer(pair.authentication));
    await patchSettings(a, { groups: { apiAccess: [group] } }, admin());
    try {
      // From here on B and C hold the user, without the group, in memory.
      const outside = await everyWithin(
        'refuses a user outside groups.apiAccess',
        [b, c],
        call,
        (r) => r.status === 403,
      );
      for (const { result } of outside) expect(result.body.code).toBe('not_in_api_access_group');

      const added = await http(`${a.url}/admin/users/${member.username}`, {
        method: 'PATCH',
        headers: { authorization: admin() },
        json: { groups: [group] },
      });
      expect(added.status).toBe(200);
      const inside = await everyWithin(
        'lets in the user added to the group on A',
        [b, c],
        call,
        (r) => r.status === 200,
      );
      for (const { result } of inside) expect(result.body.groups).toEqual([group]);

      const removed = await http(`${a.url}/admin/users/${member.username}`, {
        method: 'PATCH',
        headers: { authorization: admin() },
        json: { groups: [] },
      });
      expect(removed.status).toBe(200);
      await everyWithin(
        'refuses the user removed from the group on A',
        [b, c],
        call,
        (r) => r.status === 403,
      );
    } finally {
      await patchSettings(a, { groups: { apiAccess: [] } }, admin());
      await settingsSettled();
    }
  });

  maybe('an API token revoked on A is refused by B and C within a second', async () => {
    const user = await newUser(a);
    const { id, token } = await newApiToken(a, user, 'revoked on A');
    // Twice on each: the second answer comes from the instance's memory of the verified token.
    for (const t of [b, c]) {
      for (let i = 0; i < 2; i++) {
        const ok = await whoami(t, bearer(token));
        expect(ok.status).toBe(200);
        expect(ok.body).toMatchObject({ username: user.username, authMethod: 'api-token' });
      }
    }

    const revoked = await http(`${a.url}/tokens/${id}`, {
      method: 'DELETE',
      headers: { authorization: basic(user.username, user.password) },
    });
    expect(revoked.status).toBe(204);
    await everyWithin(
      'refuses the API token revoked on A',
      instances,
      (t) => whoami(t, bearer(token)),
      (r) => r.status === 401,
    );
  });

  maybe(
    'a refresh reuse detected on A ends the family: its access token stops working on B and C within a second',
    async () => {
      await settingsSettled();
      const user = await newUser(a);
      const gen1 = await login(a, user);
      // The family grows on B and C, so that no instance has seen all of it.
      const gen2 = await reauth(b, gen1.refresh);
      expect(gen2.status).toBe(200);
      const gen3 = await reauth(c, gen2.body.refresh);
      expect(gen3.status).toBe(200);
      const access = gen3.body.authentication;
      for (const t of [b, c]) {
        for (let i = 0; i < 2; i++) expect((await whoami(t, bearer(access))).status).toBe(200);
      }

      // gen1 is two generations old: no grace applies, this is a reuse.
      const reuse = await reauth(a, gen1.refresh);
      expect(reuse.status).toBe(401);
      expect(reuse.body.code).toBe('invalid_refresh_token');

      await everyWithin(
        'refuses the access token of the family revoked on A',
        [b, c],
        (t) => whoami(t, bearer(access)),
        (r) => r.status === 401,
      );
      // The newest refresh token of the family is dead on every instance too.
      for (const t of instances) expect((await reauth(t, gen3.body.refresh)).status).toBe(401);
      const rows = await db!.query('SELECT revoked_reason FROM refresh_sessions WHERE id = $1', [
        claimsOf(gen1.refresh).sid,
      ]);
      expect(rows.rows).toEqual([{ revoked_reason: 'refresh_reuse' }]);
    },
  );

  maybe(
    'a Connect tenant uninstalled through A is refused by B and C within a second',
    async () => {
      const tenant = newTenant();
      const connectWhoami = (t: Instance) =>
        http(`${t.url}/connect/whoami`, {
          headers: {
            authorization: `JWT ${FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami')}`,
          },
        });
      expect((await connectWhoami(b)).status).toBe(401);

      expect((await atlassian.install(a.url, BASE_URL, tenant)).status).toBe(204);
      await everyWithin(
        'accepts the tenant installed through A',
        [b, c],
        connectWhoami,
        (r) => r.status === 200,
      );
      const served = await connectWhoami(b);
      expect(served.status).toBe(200);
      expect(JSON.stringify(served.body)).toContain(tenant.clientKey);

      expect((await atlassian.uninstall(a.url, BASE_URL, tenant)).status).toBe(204);
      await everyWithin(
        'refuses the tenant uninstalled through A',
        [b, c],
        connectWhoami,
        (r) => r.status === 401,
      );
    },
  );

  maybe('the three processes draw on one rate-limit budget per credential', async () => {
    const LIMIT = 5;
    const walker = await login(a, await newUser(a));
    // Watches the budget in force on each instance, spending its own budget, not the walker's.
    const watcher = await login(a, await newUser(a));
    const before = (await http(`${a.url}/admin/settings`, { headers: { authorization: admin() } }))
      .body.rateLimit;
    const budgetIs = (limit: number) =>
      everyWithin(
        `applies a budget of ${limit}`,
        instances,
        (t) => whoami(t, bearer(watcher.authentication)),
        (r) => r.headers.get('ratelimit-limit') === String(limit),
      );

    await patchSettings(a, { rateLimit: { enabled: true, requests: LIMIT } }, admin());
    try {
      await budgetIs(LIMIT);
      // Three budgets' worth at once, spread over the three instances.
      const burst = await Promise.all(
        Array.from({ length: 3 * LIMIT }, (_, i) =>
          whoami(instances[i % instances.length], bearer(walker.authentication)),
        ),
      );
      const statuses = burst.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2 * LIMIT);
      // Then 429 everywhere, with the wait the client should honour.
      for (const t of instances) {
        const after = await whoami(t, bearer(walker.authentication));
        expect(after.status).toBe(429);
        expect(after.body.code).toBe('rate_limited');
        expect(Number(after.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    } finally {
      // The admin's own session has spent far more than the small budget in this window; a new
      // sign-in (not itself counted) has a budget of its own to undo the change with.
      const fresh = await http<Pair>(`${a.url}/system/auth`, {
        method: 'POST',
        json: { username: ADMIN_USERNAME, password: ADMIN_PASSWORD },
      });
      expect(fresh.status).toBe(200);
      await patchSettings(a, { rateLimit: before }, bearer(fresh.body.authentication));
      await budgetIs(before.requests);
    }
  });

  maybe(
    'the audit retention cron fires on every instance and each firing runs exactly once',
    async () => {
      const seeded = 3000;
      await db!.query(
        `INSERT INTO audit_log (at, event, outcome, request_id)
         SELECT now() - interval '400 days' + g * interval '1 millisecond', 'access.allowed',
                'allowed', 'multi-process-' || g
         FROM generate_series(1, $1::int) g`,
        [seeded],
      );
      const retention = (t: Instance) =>
        http(`${t.url}/admin/audit/retention`, { headers: { authorization: admin() } });
      const before = (await retention(a)).body.cron;

      await patchSettings(a, { audit: { purgeCron: EVERY_SECOND } }, admin());
      try {
        await everyWithin(
          'schedules the new purge cron',
          instances,
          retention,
          (r) => r.body.cron === EVERY_SECOND && r.body.nextRunAt !== null,
        );
        // Firings from the next one on find all three instances scheduled.
        const firstJudged = Math.floor(Date.now() / FIRING_MS) + 1;
        // The newest firing may still be running or buffered: only those before it are judged.
        const runs = await eventually(
          () => scheduledRuns(),
          (rows) => new Set(rows.map((r) => r.firing)).size >= FIRINGS + 2,
          (FIRINGS + 6) * FIRING_MS,
        );
        const newest = Math.max(...runs.map((r) => r.firing));
        const runsPerFiring: Record<number, number> = {};
        for (let firing = firstJudged; firing < newest; firing++) runsPerFiring[firing] = 0;
        for (const run of runs) if (run.firing in runsPerFiring) runsPerFiring[run.firing] += 1;
        expect(Object.keys(runsPerFiring).length).toBeGreaterThanOrEqual(FIRINGS - 1);
        // One run per firing: not one per instance, nor a second one once the first was over.
        expect(runsPerFiring).toEqual(
          Object.fromEntries(Object.keys(runsPerFiring).map((firing) => [firing, 1])),
        );
        // The seeded rows went once, with one run; none was deleted twice.
        expect(runs.reduce((sum, r) => sum + r.deletedByAge, 0)).toBe(seeded);
        expect(runs.filter((r) => r.deletedByAge > 0)).toHaveLength(1);
        const left = await db!.query(
          "SELECT count(*)::int AS n FROM audit_log WHERE request_id LIKE 'multi-process-%'",
        );
        expect(left.rows[0].n).toBe(0);
      } finally {
        await patchSettings(a, { audit: { purgeCron: before } }, admin());
        await settingsSettled();
      }
    },
    60_000,
  );

  maybe(
    'two uses of one refresh token on two instances at once rotate the family exactly once',
    async () => {
      await settingsSettled();
      const user = await newUser(a);
      const first = await login(a, user);
      const sid = claimsOf(first.refresh).sid;
      let current: Pair = first;
      let previous: Pair | undefined;
      for (let round = 0; round < REAUTH_ROUNDS; round++) {
        const answers = await Promise.all([reauth(a, current.refresh), reauth(b, current.refresh)]);
        for (const answer of answers) {
          // A loser may be told off cleanly, but never with anything else.
          if (answer.status !== 200) {
            expect(answer.status).toBe(401);
            expect(answer.body.code).toBe('invalid_refresh_token');
          }
        }
        const won = answers.filter((r) => r.status === 200);
        expect(won.length).toBeGreaterThanOrEqual(1);
        // One successor, whichever instance answered: the same pair, byte for byte.
        expect(new Set(won.map((r) => JSON.stringify(r.body))).size).toBe(1);
        expect(won[0].body.refresh).not.toBe(current.refresh);
        previous = current;
        current = won[0].body;
      }

      const { rows } = await db!.query(
        `SELECT generation, current_jti_hash, previous_jti_hash, revoked_at
         FROM refresh_sessions WHERE id = $1`,
        [sid],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toEqual({
        generation: REAUTH_ROUNDS + 1,
        current_jti_hash: jtiHash(current.refresh),
        previous_jti_hash: jtiHash(previous!.refresh),
        revoked_at: null,
      });
      // The one successor works on the third instance.
      expect((await whoami(c, bearer(current.authentication))).status).toBe(200);
      expect((await reauth(c, current.refresh)).status).toBe(200);
    },
    60_000,
  );

  /** Every scheduled retention run recorded, with the firing (cron slot) it belongs to. */
  async function scheduledRuns(): Promise<{ firing: number; deletedByAge: number }[]> {
    const { rows } = await db!.query<{ details: string }>(
      "SELECT details FROM audit_log WHERE event = 'audit.purged' AND reason = 'schedule'",
    );
    return rows.map((row) => {
      const run = JSON.parse(row.details) as { startedAt: string; deletedByAge: number };
      return {
        firing: Math.floor(Date.parse(run.startedAt) / FIRING_MS),
        deletedByAge: run.deletedByAge,
      };
    });
  }
});

function claimsOf(jwt: string): { sid: string; jti: string } {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/** How the refresh_sessions table stores a refresh token's jti. */
function jtiHash(jwt: string): string {
  return createHash('sha256').update(claimsOf(jwt).jti).digest('hex');
}
