import Database from 'better-sqlite3';
import { Client } from 'pg';
import { DATABASES, databaseReady, itWhen, TestApp } from '../support/app';
import { testConfig } from '../support/config';
import { adminAuth, login } from '../support/factories';
import { bearer } from '../support/http';
import { createTestDatabase } from '../support/postgres';
import { startWardenProcess } from '../support/process';
import { patchSettings } from '../support/settings';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';

const CONCURRENCY = 32;
const LOAD_BEFORE_SIGTERM_MS = 1500;
const REQUEST_TIMEOUT_MS = 5000;
/** Shutdown waits for in-flight requests and the last audit batch; it must not hang. */
const EXIT_WITHIN_MS = 15_000;

describe.each(DATABASES)('audit on SIGTERM under load (%s)', (database) => {
  let ready = false;
  beforeAll(async () => {
    ready = await databaseReady(database);
  });
  const maybe = itWhen(() => ready);

  maybe(
    'every request answered before the process ended has its row in the database',
    async () => {
      const pg = database === 'postgres' ? await createTestDatabase() : undefined;
      const { env, cleanup } = testConfig(pg ? { DATABASE_URL: pg.url } : {});
      const warden = await startWardenProcess({
        ...env,
        LOG_LEVEL: process.env.SHUTDOWN_LOG_LEVEL ?? 'warn',
      });
      try {
        const t = { url: warden.url } as TestApp;
        // One token for all the load: lift its rate limit so that every answer is a 200 or a 401.
        await patchSettings(t, { rateLimit: { enabled: false } }, adminAuth());
        const { authentication } = await login(t, {
          username: ADMIN_USERNAME,
          password: ADMIN_PASSWORD,
        });
        const answered = new Map<string, number>();
        let stop = false;
        let timedOut = 0;
        const worker = async (w: number) => {
          for (let i = 0; !stop; i++) {
            const id = `load-${w}-${i}`;
            try {
              const res = await fetch(`${warden.url}/system/whoami`, {
                headers: {
                  // One in five is refused: denials must be kept too.
                  authorization: bearer(i % 5 === 4 ? `${authentication}x` : authentication),
                  'x-request-id': id,
                },
                signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
              });
              await res.arrayBuffer();
              if (res.status === 200 || res.status === 401) answered.set(id, res.status);
              else if (res.status === 503)
                stop = true; // closing: no decision was made
              else throw new Error(`unexpected ${res.status}`);
            } catch (err) {
              if (err instanceof Error && err.message.startsWith('unexpected')) throw err;
              if (err instanceof Error && err.name === 'TimeoutError') timedOut++;
              stop = true; // connection refused or reset: the server is gone
            }
          }
        };
        const load = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
        await new Promise((r) => setTimeout(r, LOAD_BEFORE_SIGTERM_MS));
        warden.child.kill('SIGTERM');
        await load;
        const exit = await Promise.race([
          warden.exited,
          new Promise((resolve) =>
            setTimeout(() => resolve('still running'), EXIT_WITHIN_MS).unref(),
          ),
        ]);
        if (exit === 'still running') throw new Error(`no exit after SIGTERM:\n${warden.output()}`);
        expect(timedOut).toBe(0);
        expect(['SIGTERM', 0]).toContain(exit);
        expect(warden.output()).not.toMatch(/auditNotStored|dropped \d+ events/);

        const stored = new Set<string>();
        const rows = await storedRequestIds(env.DATABASE_URL);
        for (const r of rows) stored.add(r);
        expect(answered.size).toBeGreaterThan(200);
        expect([...answered.values()]).toContain(401);
        const missing = [...answered.keys()].filter((id) => !stored.has(id));
        expect(missing).toEqual([]);
      } finally {
        if (warden.child.exitCode === null && warden.child.signalCode === null)
          warden.child.kill('SIGKILL');
        await warden.exited;
        cleanup();
        await pg?.drop();
      }
    },
    60_000,
  );
});

async function storedRequestIds(databaseUrl: string): Promise<string[]> {
  const sql = "SELECT request_id FROM audit_log WHERE request_id LIKE 'load-%'";
  if (databaseUrl.startsWith('sqlite:')) {
    const db = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
    try {
      return (db.prepare(sql).all() as { request_id: string }[]).map((r) => r.request_id);
    } finally {
      db.close();
    }
  }
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql)).rows.map((r) => r.request_id);
  } finally {
    await client.end();
  }
}
