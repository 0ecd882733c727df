import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { itWhen, startApp, TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { login } from '../support/factories';
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

describe('Redis goes down and comes back', () => {
  let t: TestApp;
  let redis: PrivateRedis;
  let ready = false;
  const when = itWhen(() => ready);

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

  const shared = async () => {
    const metrics = await http(`${t.url}/metrics`);
    return /^warden_rate_limit_shared (\d)/m.exec(metrics.text)?.[1];
  };

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
      expect(await shared()).toBe('1');
      expect(await statuses(4)).toEqual([200, 200, 200, 429]);

      await redis.stop();
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
    },
    60_000,
  );
});
