import Database from 'better-sqlite3';
import { Client } from 'pg';
import { AUDIT_BATCH_ROWS, AUDIT_FLUSH_INTERVAL_MS } from '../../src/audit/audit-writer.service';
import { DATABASES, databaseReady, itWhen, TestApp } from '../support/app';
import { ADMIN_PASSWORD, ADMIN_USERNAME, testConfig } from '../support/config';
import { adminAuth, login } from '../support/factories';
import { bearer } from '../support/http';
import { createTestDatabase } from '../support/postgres';
import { startWardenProcess } from '../support/process';
import { patchSettings } from '../support/settings';

const CONCURRENCY = 32;
const LOAD_BEFORE_SIGKILL_MS = 2500;
/** The request rate is measured over the last stretch of the load, the one the kill cuts into. */
const RATE_WINDOW_MS = 1000;
const REQUEST_TIMEOUT_MS = 10_000;
const EXIT_WITHIN_MS = 10_000;

describe.each(DATABASES)('audit on SIGKILL under load (%s)', (database) => {
  let ready = false;
  beforeAll(async () => {
    ready = await databaseReady(database);
  });
  const maybe = itWhen(() => ready);

  maybe(
    'loses at most what one flush interval and one batch hold, and stores only answered requests, once each',
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
        const answeredAt: number[] = [];
        let stop = false;
        const worker = async (w: number) => {
          for (let i = 0; !stop; i++) {
            const id = `kill-${w}-${i}`;
            try {
              const res = await fetch(`${warden.url}/system/whoami`, {
                headers: {
                  // One in five is refused: denials are rows too.
                  authorization: bearer(i % 5 === 4 ? `${authentication}x` : authentication),
                  'x-request-id': id,
                },
                signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
              });
              await res.arrayBuffer();
              if (res.status !== 200 && res.status !== 401)
                throw new Error(`unexpected ${res.status}`);
              answered.set(id, res.status);
              answeredAt.push(Date.now());
            } catch (err) {
              if (err instanceof Error && err.message.startsWith('unexpected')) throw err;
              stop = true; // connection refused or reset: the process is gone
            }
          }
        };
        const load = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
        await new Promise((r) => setTimeout(r, LOAD_BEFORE_SIGKILL_MS));
        const killedAt = Date.now();
        warden.child.kill('SIGKILL');
        await load;
        const exit = await Promise.race([
          warden.exited,
          new Promise((resolve) =>
            setTimeout(() => resolve('still running'), EXIT_WITHIN_MS).unref(),
          ),
        ]);
        expect(exit).toBe('SIGKILL');

        const rows = await storedRequestIds(env.DATABASE_URL);
        const stored = new Set(rows);
        // Every row is a request that was made and answered, and none is there twice.
        expect(rows.length).toBe(stored.size);
        expect(rows.filter((id) => !answered.has(id))).toEqual([]);

        // The load was real, refusals included, and the writer had been flushing all along.
        expect(answered.size).toBeGreaterThan(200);
        expect([...answered.values()]).toContain(401);
        expect(stored.size).toBeGreaterThan(0);

        // What the process could answer in one flush interval, at the rate it answered just before
        // the kill, plus the batch that may have been on its way to the database.
        const recent = answeredAt.filter((at) => at > killedAt - RATE_WINDOW_MS).length;
        const perMs = recent / RATE_WINDOW_MS;
        const bound = Math.ceil(perMs * AUDIT_FLUSH_INTERVAL_MS) + AUDIT_BATCH_ROWS;
        const missing = [...answered.keys()].filter((id) => !stored.has(id));
        expect(missing.length).toBeLessThanOrEqual(bound);
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
  const sql = "SELECT request_id FROM audit_log WHERE request_id LIKE 'kill-%'";
  if (databaseUrl.startsWith('sqlite:')) {
    // Not read-only: the killed process left its write-ahead log behind, which opening replays.
    const db = new Database(databaseUrl.slice('sqlite:'.length));
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
