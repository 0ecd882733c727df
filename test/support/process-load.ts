import Database from 'better-sqlite3';
import { Client } from 'pg';
import { ADMIN_PASSWORD, ADMIN_USERNAME, testConfig } from './config';
import { adminAuth, login } from './factories';
import { bearer } from './http';
import { createTestDatabase } from './postgres';
import { startWardenProcess, WardenProcess } from './process';
import { patchSettings } from './settings';

/** A real Warden process on its own database, ready to be loaded, and how to throw it away. */
export interface LoadedWarden {
  warden: WardenProcess;
  databaseUrl: string;
  /** The admin's access token: the load's credential. */
  authentication: string;
  /** Kills the process if it still runs, then removes its files and database. */
  dispose: () => Promise<void>;
}

export async function startLoadedWarden(
  database: 'sqlite' | 'postgres',
  options: {
    env?: Record<string, string>;
    /** The settings for the load; by default none of it is rate limited. */
    settings?: Record<string, unknown>;
  } = {},
): Promise<LoadedWarden> {
  const pg = database === 'postgres' ? await createTestDatabase() : undefined;
  const { env, cleanup } = testConfig({
    ...(pg ? { DATABASE_URL: pg.url } : {}),
    ...options.env,
  });
  const warden = await startWardenProcess({
    ...env,
    LOG_LEVEL: process.env.SHUTDOWN_LOG_LEVEL ?? 'warn',
  });
  const dispose = async () => {
    if (warden.child.exitCode === null && warden.child.signalCode === null)
      warden.child.kill('SIGKILL');
    await warden.exited;
    cleanup();
    await pg?.drop();
  };
  try {
    // One token for all the load: lift its rate limit so that every answer is a 200 or a 401.
    await patchSettings(warden, options.settings ?? { rateLimit: { enabled: false } }, adminAuth());
    const { authentication } = await login(warden, {
      username: ADMIN_USERNAME,
      password: ADMIN_PASSWORD,
    });
    return { warden, databaseUrl: env.DATABASE_URL, authentication, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export interface Load {
  /** Request id → status of every request answered with a decision (200 or 401). */
  answered: Map<string, number>;
  /** When each of those answers came, in order (ms since epoch). */
  answeredAt: number[];
  /** Requests that got no answer within the timeout. */
  timedOut: number;
  /** Settles once every worker has stopped: the server went away or answered 503. */
  done: Promise<void>;
}

/**
 * `concurrency` workers calling GET /system/whoami back to back, each request with its own
 * `x-request-id` (`<prefix>-<worker>-<n>`), one in five with a forged token (denials are audit
 * rows too), until the server stops answering. Any status but 200, 401 or a closing 503 fails.
 */
export function loadWhoami(
  target: LoadedWarden,
  options: { prefix: string; concurrency: number; timeoutMs: number },
): Load {
  const load: Load = { answered: new Map(), answeredAt: [], timedOut: 0, done: Promise.resolve() };
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const id = `${options.prefix}-${w}-${i}`;
      let status: number;
      try {
        const res = await fetch(`${target.warden.url}/system/whoami`, {
          headers: {
            authorization: bearer(
              i % 5 === 4 ? `${target.authentication}x` : target.authentication,
            ),
            'x-request-id': id,
          },
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        if (err instanceof Error && err.name === 'TimeoutError') load.timedOut++;
        stop = true; // connection refused or reset: the server is gone
        return;
      }
      if (status === 200 || status === 401) {
        load.answered.set(id, status);
        load.answeredAt.push(Date.now());
      } else if (status === 503)
        stop = true; // closing: no decision was made
      else throw new Error(`unexpected ${status} for ${id}`);
    }
  };
  load.done = Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w))).then(
    () => undefined,
  );
  return load;
}

/**
 * Resolves once the load has had `count` answers: a signal sent then lands under load however
 * slow the machine is (a fixed wait does not). Fails after `ms` with what had come by then.
 */
export async function answersReach(load: Load, count: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (load.answered.size < count) {
    if (Date.now() > deadline)
      throw new Error(`only ${load.answered.size} of ${count} answers within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves with how the process ended, or 'still running' after `ms`. */
export function exitWithin(warden: WardenProcess, ms: number): Promise<number | string> {
  return Promise.race([
    warden.exited,
    new Promise<string>((resolve) => setTimeout(() => resolve('still running'), ms).unref()),
  ]);
}

/** The request ids of the audit rows whose request id starts with `prefix-`. */
export async function storedRequestIds(databaseUrl: string, prefix: string): Promise<string[]> {
  const sql = `SELECT request_id FROM audit_log WHERE request_id LIKE '${prefix}-%'`;
  if (databaseUrl.startsWith('sqlite:')) {
    // Not read-only: a killed process leaves its write-ahead log behind, which opening replays.
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
