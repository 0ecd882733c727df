import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WardenConfig } from '../../src/config/warden-config';
import {
  FALLBACK_AUTOCHECKPOINT_PAGES,
  SqliteCheckpointer,
} from '../../src/database/sqlite-checkpointer';
import { openTestDatabase, TestDatabase } from '../support/database';
import { eventually } from '../support/eventually';

const ROWS = 2000;

describe(SqliteCheckpointer.name, () => {
  let db: TestDatabase;
  let path: string;
  let scratch: string;
  let checkpointers: SqliteCheckpointer[];

  beforeEach(async () => {
    db = await openTestDatabase('sqlite');
    path = (db.dataSource.options as { database: string }).database;
    scratch = mkdtempSync(join(tmpdir(), 'warden-checkpoint-'));
    checkpointers = [];
  });
  afterEach(async () => {
    for (const checkpointer of checkpointers) await checkpointer.onApplicationShutdown();
    await db.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  function start(options: ConstructorParameters<typeof SqliteCheckpointer>[2] = {}) {
    const config = { database: { kind: 'sqlite', url: `sqlite:${path}`, sqlitePath: path } };
    const checkpointer = new SqliteCheckpointer(db.dataSource, config as WardenConfig, {
      intervalMs: 50,
      ...options,
    });
    checkpointers.push(checkpointer);
    checkpointer.onModuleInit();
    return checkpointer;
  }

  async function insertRows(from: number): Promise<void> {
    await db.dataSource.transaction(async (manager) => {
      for (let i = from; i < from + ROWS; i++) {
        await manager.query(
          `INSERT INTO audit_log (at, event, outcome, path) VALUES (${Date.UTC(2026, 10, 26)}, 'access.allowed', 'allowed', ?)`,
          [`/rest/api/2/issue/CHECK-${i}/${'x'.repeat(200)}`],
        );
      }
    });
  }

  /** What the database file holds on its own, as a copy taken without its write-ahead log. */
  function rowsInFileAlone(): number | string {
    const copy = join(scratch, `copy-${Date.now()}-${Math.random()}.sqlite`);
    copyFileSync(path, copy);
    const reader = new Database(copy, { readonly: true });
    try {
      const row = reader
        .prepare(`SELECT count(*) AS n FROM audit_log WHERE event = 'access.allowed'`)
        .get() as { n: number };
      return row.n;
    } catch (err) {
      return (err as Error).message;
    } finally {
      reader.close();
    }
  }

  function mainAutocheckpoint(): number {
    const connection = (
      db.dataSource.driver as unknown as { databaseConnection: Database.Database }
    ).databaseConnection;
    return connection.pragma('wal_autocheckpoint', { simple: true }) as number;
  }

  it('copies committed pages into the database file in the background, not on commit', async () => {
    // Without it, a commit checkpoints only past SQLite's threshold: these rows stay in the log.
    await insertRows(0);
    expect(rowsInFileAlone()).not.toBe(ROWS);

    const checkpointer = start();
    expect(mainAutocheckpoint()).toBe(FALLBACK_AUTOCHECKPOINT_PAGES);
    expect(
      await eventually(
        async () => rowsInFileAlone(),
        (n) => n === ROWS,
      ),
    ).toBe(ROWS);
    await insertRows(ROWS);
    expect(
      await eventually(
        async () => rowsInFileAlone(),
        (n) => n === 2 * ROWS,
      ),
    ).toBe(2 * ROWS);
    const stats = checkpointer.stats();
    expect(stats.running).toBe(true);
    expect(stats.runs).toBeGreaterThanOrEqual(2);
    expect(stats.framesCopied).toBeGreaterThan(0);
  });

  it('gives checkpoints back to commits when it stops, after a last one of its own', async () => {
    const checkpointer = start({ intervalMs: 60_000 });
    await insertRows(0);
    expect(rowsInFileAlone()).not.toBe(ROWS);
    await checkpointer.onApplicationShutdown();
    expect(rowsInFileAlone()).toBe(ROWS);
    expect(checkpointer.stats().running).toBe(false);
    expect(mainAutocheckpoint()).toBe(1000);
  });

  it('gives checkpoints back to commits when its worker cannot run', async () => {
    const checkpointer = start({ driverModule: join(scratch, 'no-such-driver.js') });
    const stopped = await eventually(
      async () => checkpointer.stats().running,
      (running) => !running,
      5000,
    );
    expect(stopped).toBe(false);
    expect(mainAutocheckpoint()).toBe(1000);
  });

  it('starts no worker for an in-memory or PostgreSQL database', () => {
    for (const database of [
      { kind: 'sqlite', url: 'sqlite::memory:', sqlitePath: ':memory:' },
      { kind: 'postgres', url: 'postgres://127.0.0.1/none' },
    ]) {
      const checkpointer = new SqliteCheckpointer(db.dataSource, { database } as WardenConfig);
      checkpointer.onModuleInit();
      expect(checkpointer.stats().running).toBe(false);
    }
    expect(mainAutocheckpoint()).toBe(1000);
  });
});
