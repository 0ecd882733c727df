import Redis from 'ioredis';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { itWhen, startApp, TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { ADMIN_PASSWORD, ADMIN_USERNAME, testConfig } from '../support/config';
import { startWardenProcess, stopWardenProcess, WardenProcess } from '../support/process';
import { INVALIDATION_CHANNELS } from '../support/redis';
import { adminAuth, login } from '../support/factories';
import { bearer, http } from '../support/http';

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(
  (p) => spawnSync(p, ['--version']).status === 0,
);

function requireRedisServer(): boolean {
  if (REDIS_SERVER) return true;
  if (process.env.CI) throw new Error('redis-server is required under CI (.ci/run installs it)');
  process.stderr.write('redis-server not found: skipping the Redis outage test\n');
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A Redis of this test's own, which it can stop and start again on the same port. */
class PrivateRedis {
  private child: ChildProcess | null = null;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.child = spawn(
      REDIS_SERVER!,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      this.child!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      this.child!.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGKILL');
    });
  }
}

async function sharedMetric(t: TestApp): Promise<string | undefined> {
  const metrics = await http(`${t.url}/metrics`);
  return /^warden_rate_limit_shared (\d)/m.exec(metrics.text)?.[1];
}

describe('Redis goes down and comes back', () => {
  let t: TestApp;
  let redis: PrivateRedis;
  let ready = false;
  const when = itWhen('redis-server');

  beforeAll(async () => {
    ready = requireRedisServer();
    if (!ready) return;
    redis = new PrivateRedis(await freePort());
    await redis.start();
    t = await startApp({
      env: { REDIS_URL: `redis://127.0.0.1:${redis.port}` },
      settings: { rateLimit: { enabled: true, requests: 3, windowSeconds: 60 } },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  const shared = () => sharedMetric(t);

  when(
    'rate limits hold per instance while Redis is away, say so in the metrics, and are shared again once it is back',
    async () => {
      const { authentication } = await login(t, {
        username: ADMIN_USERNAME,
        password: ADMIN_PASSWORD,
      });
      const whoami = () =>
        http(`${t.url}/system/whoami`, { headers: { authorization: bearer(authentication) } });
      const statuses = async (n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await whoami()).status);
        return out;
      };
      const ready = async () => {
        const res = await http(`${t.url}/health/ready`);
        return { status: res.status, body: res.body };
      };
      // Redis answered the client's ready check at start: the counters are shared.
      expect(await eventually(shared, (v) => v === '1')).toBe('1');
      expect(await ready()).toEqual({
        status: 200,
        body: { status: 'ok', checks: { database: 'ok', redis: 'ok' } },
      });
      expect(await statuses(4)).toEqual([200, 200, 200, 429]);

      await redis.stop();
      // Readiness says Redis is down, but the instance still serves: it stays in the pool.
      expect(await ready()).toEqual({
        status: 200,
        body: { status: 'degraded', checks: { database: 'ok', redis: 'down' } },
      });
      // This instance counts on its own from the first request Redis cannot take: still limited,
      // never a 500.
      expect(await statuses(5)).toEqual([200, 200, 200, 429, 429]);
      expect(await shared()).toBe('0');

      await redis.start();
      // Redis starts empty: once the client has reconnected, requests count there again.
      const back = await eventually(
        async () => {
          await whoami();
          return shared();
        },
        (v) => v === '1',
      );
      expect(back).toBe('1');
      expect((await ready()).body).toEqual({
        status: 'ok',
        checks: { database: 'ok', redis: 'ok' },
      });
    },
    60_000,
  );
});

describe('warden_rate_limit_shared before Redis was ever reached', () => {
  const when = itWhen('redis-server');
  const started: TestApp[] = [];
  let redis: PrivateRedis | undefined;

  beforeAll(() => {
    requireRedisServer();
  });
  afterAll(async () => {
    for (const app of started) await app.close();
    await redis?.stop();
  });

  it('is 0 without REDIS_URL: every instance counts alone', async () => {
    const t = await startApp({ settings: { rateLimit: { enabled: true, requests: 5 } } });
    started.push(t);
    const res = await http(`${t.url}/system/whoami`, { headers: { authorization: adminAuth() } });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-limit')).toBe('5');
    expect(await sharedMetric(t)).toBe('0');
  });

  when(
    'is 0 while the configured Redis has never answered, and 1 once it does',
    async () => {
      redis = new PrivateRedis(await freePort());
      const t = await startApp({
        env: { REDIS_URL: `redis://127.0.0.1:${redis.port}` },
        settings: { rateLimit: { enabled: true, requests: 3, windowSeconds: 60 } },
      });
      started.push(t);
      expect(await sharedMetric(t)).toBe('0');
      const whoami = () =>
        http(`${t.url}/system/whoami`, { headers: { authorization: adminAuth() } });
      // Counted on this instance meanwhile: limited all the same, never a 500.
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await whoami()).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(await sharedMetric(t)).toBe('0');

      await redis.start();
      expect(
        await eventually(
          () => sharedMetric(t),
          (v) => v === '1',
        ),
      ).toBe('1');
    },
    60_000,
  );
});

describe('a Warden process whose Redis is away at start, comes, and goes again', () => {
  const when = itWhen('redis-server');
  let redis: PrivateRedis | undefined;
  let warden: WardenProcess | undefined;
  let removeDataDir: (() => void) | undefined;

  beforeAll(() => {
    requireRedisServer();
  });
  afterAll(async () => {
    if (warden && warden.child.exitCode === null && warden.child.signalCode === null)
      warden.child.kill('SIGKILL');
    await redis?.stop();
    removeDataDir?.();
  });

  const subscribers = async (port: number): Promise<number[]> => {
    const probe = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1 });
    try {
      const reply = (await probe.call('PUBSUB', 'NUMSUB', ...INVALIDATION_CHANNELS)) as unknown[];
      return reply.filter((_, i) => i % 2 === 1).map(Number);
    } finally {
      probe.disconnect();
    }
  };

  when(
    'writes JSON lines only, logs each loss and the return once, subscribes once Redis comes, and stops while it is away',
    async () => {
      redis = new PrivateRedis(await freePort());
      const { env, cleanup } = testConfig({
        REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        LOG_LEVEL: 'debug',
      });
      removeDataDir = cleanup;
      warden = await startWardenProcess(env);
      const lines = () =>
        warden!
          .output()
          .split('\n')
          .filter((line) => line.trim() !== '');
      const messages = (context: string) =>
        lines()
          .map((line) => {
            try {
              return JSON.parse(line) as { context?: string; msg?: string };
            } catch {
              return {};
            }
          })
          .filter((entry) => entry.context === context)
          .map((entry) => entry.msg);
      const bus = () => messages('RedisInvalidationBus');
      // The clients retry several times a second meanwhile.
      await new Promise((r) => setTimeout(r, 3000));
      expect(bus().filter((m) => m?.startsWith('Redis unavailable'))).toHaveLength(1);

      await redis.start();
      expect(
        await eventually(
          async () => bus().filter((m) => m?.startsWith('Redis reachable again')).length,
          (n) => n > 0,
        ),
      ).toBe(1);
      // The subscriptions asked for while Redis was away were made once it came.
      expect(
        await eventually(
          () => subscribers(redis!.port),
          (counts) => counts.every((n) => n === 1),
        ),
      ).toEqual(INVALIDATION_CHANNELS.map(() => 1));

      await redis.stop();
      await new Promise((r) => setTimeout(r, 3000));
      expect(['SIGTERM', 0]).toContain(await stopWardenProcess(warden, 10_000));

      const notJson = lines().filter((line) => {
        try {
          return typeof JSON.parse(line) !== 'object';
        } catch {
          return true;
        }
      });
      expect(notJson).toEqual([]);
      expect(bus()).toEqual([
        expect.stringMatching(/^Redis unavailable/),
        expect.stringMatching(/^Redis reachable again/),
        expect.stringMatching(/^Redis unavailable/),
      ]);
    },
    120_000,
  );
});
