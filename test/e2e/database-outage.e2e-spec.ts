import { createServer, Server, Socket, connect as connectTcp } from 'node:net';
import { itWhen, startApp, TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { adminAuth, login } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { createTestDatabase, requirePostgres } from '../support/postgres';

/**
 * A TCP relay between Warden and PostgreSQL that can be cut and restored: the database "goes
 * down" for Warden (every connection dropped, new ones refused) and comes back on the same port.
 */
class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async up(): Promise<void> {
    if (this.server) return;
    this.server = createServer((client) => {
      const upstream = connectTcp(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
    this.server = null;
  }
}

describe('PostgreSQL goes down and comes back', () => {
  let t: TestApp;
  let relay: Relay;
  let drop: (() => Promise<void>) | undefined;
  let ready = false;
  const when = itWhen('postgres');

  beforeAll(async () => {
    ready = await requirePostgres();
    if (!ready) return;
    const db = await createTestDatabase();
    drop = db.drop;
    const url = new URL(db.url);
    relay = new Relay(url.hostname, Number(url.port || 5432));
    await relay.up();
    url.hostname = '127.0.0.1';
    url.port = String(relay.port);
    t = await startApp({ env: { DATABASE_URL: url.toString() } });
  }, 60_000);
  afterAll(async () => {
    await relay?.up().catch(() => undefined);
    await t?.close();
    await relay?.down();
    await drop?.();
  });

  when(
    'writes answer 503, cached tokens keep working, readiness says so, and all recovers without a restart',
    async () => {
      const pair = await login(t, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });
      const whoami = () =>
        http(`${t.url}/system/whoami`, { headers: { authorization: bearer(pair.authentication) } });
      expect((await whoami()).status).toBe(200);

      await relay.down();
      const ready = await eventually(
        () => http(`${t.url}/health/ready`),
        (r) => r.status === 503,
      );
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'unavailable', checks: { database: 'down' } });

      // Issuing tokens needs the database: a clear 503, never a 500 and never an allow.
      const signIn = await http(`${t.url}/system/auth`, {
        headers: { authorization: basic(ADMIN_USERNAME, ADMIN_PASSWORD) },
      });
      expect(signIn.status).toBe(503);
      expect(signIn.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(signIn.body.code).toBe('database_unavailable');
      expect(signIn.headers.get('retry-after')).toBe('5');
      const created = await http(`${t.url}/admin/groups`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: { name: 'during-outage' },
      });
      expect(created.status).toBe(503);
      // A token verified before the outage is judged from memory.
      expect((await whoami()).status).toBe(200);

      await relay.up();
      const back = await eventually(
        () => http(`${t.url}/health/ready`),
        (r) => r.status === 200,
      );
      expect(back.status).toBe(200);
      const again = await eventually(
        () =>
          http(`${t.url}/system/auth`, {
            headers: { authorization: basic(ADMIN_USERNAME, ADMIN_PASSWORD) },
          }),
        (r) => r.status === 200,
      );
      expect(again.status).toBe(200);
    },
    60_000,
  );
});
