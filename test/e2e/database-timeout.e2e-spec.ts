import Database from 'better-sqlite3';
import { Client } from 'pg';
import { DATABASE_STATEMENT_TIMEOUT_MS } from '../../src/database/data-source';
import { DATABASES, databaseReady, itWhen, startApp, TestApp } from '../support/app';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';

interface HeldLock {
  release: () => Promise<void>;
}

/**
 * Another connection takes the lock a write of the settings row needs, and keeps it until
 * released: on PostgreSQL the row itself, on SQLite the database's one write lock.
 */
async function lockSettingsRow(t: TestApp, database: 'sqlite' | 'postgres'): Promise<HeldLock> {
  if (database === 'postgres') {
    const client = new Client({ connectionString: t.env.DATABASE_URL });
    await client.connect();
    await client.query('BEGIN');
    await client.query("SELECT id FROM settings WHERE id = 'global' FOR UPDATE");
    return {
      release: async () => {
        await client.query('ROLLBACK');
        await client.end();
      },
    };
  }
  const db = new Database(t.config.database.sqlitePath!);
  db.exec('BEGIN IMMEDIATE');
  return {
    release: async () => {
      db.exec('ROLLBACK');
      db.close();
    },
  };
}

describe.each(DATABASES)('a statement held up by a lock (%s)', (database) => {
  let t: TestApp | undefined;
  let ready = false;
  const when = itWhen(database);

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    // No audit rows: on SQLite their batches would queue for the same write lock, and only the
    // settings write is under test.
    t = await startApp({ database, settings: { audit: { enabled: false } } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  when(
    'ends as a 503 problem once over the statement timeout, while the lock is still held, and writes nothing',
    async () => {
      const url = `${t!.url}/admin/settings`;
      const read = () => http(url, { headers: { authorization: adminAuth() } });
      const change = (etag: string, signal?: AbortSignal) =>
        http(`${url}?force=true`, {
          method: 'PATCH',
          headers: { authorization: adminAuth(), 'if-match': etag },
          json: { rateLimit: { requests: 123 } },
          signal,
        });
      const before = await read();
      expect(before.status).toBe(200);
      const etag = before.headers.get('etag')!;

      const lock = await lockSettingsRow(t!, database);
      let res: Awaited<ReturnType<typeof change>>;
      try {
        // Without a timeout the write would wait for the lock as long as it is held: the client
        // gives up well after the bound, and the lock goes only once the answer is in.
        res = await change(etag, AbortSignal.timeout(DATABASE_STATEMENT_TIMEOUT_MS * 4));
      } finally {
        await lock.release();
      }
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.body).toMatchObject({ status: 503, code: 'database_unavailable' });
      expect(res.text).not.toMatch(/statement|timeout|SQLITE|settings/i);

      // Nothing was half-written: the document is as it was, and the same change now goes through.
      const after = await read();
      expect(after.headers.get('etag')).toBe(etag);
      expect(after.body.rateLimit.requests).not.toBe(123);
      const retried = await change(etag);
      expect(retried.status).toBe(200);
      expect(retried.body.rateLimit.requests).toBe(123);
    },
    60_000,
  );
});
