import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Worker } from 'node:worker_threads';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';

/** How often the background connection copies the write-ahead log into the database file. */
export const CHECKPOINT_INTERVAL_MS = 500;
/**
 * SQLite's own commit-time checkpoint, held back to this many WAL pages (four times its default)
 * while the background connection works: a fallback that bounds the log should that connection
 * fall behind, not the usual path.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 4000;
/** SQLite's default, put back when the background connection stops or cannot start. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/** How long a stopping checkpointer may take to finish the checkpoint it is in and close. */
const STOP_TIMEOUT_MS = 5000;

/** Optional overrides (tests). */
export const CHECKPOINTER_OPTIONS = Symbol('CHECKPOINTER_OPTIONS');

export interface CheckpointerOptions {
  intervalMs?: number;
  fallbackPages?: number;
  /** The better-sqlite3 module the worker loads (its resolved path). */
  driverModule?: string;
}

export interface CheckpointStats {
  /** Checkpoints that copied at least one page. */
  runs: number;
  /** WAL frames copied into the database file, in all. */
  framesCopied: number;
  running: boolean;
}

/**
 * The worker's program. Plain JavaScript held as text: the worker runs it as it stands, whether
 * Warden runs compiled or from source. PASSIVE never waits on a lock: it copies what no reader
 * still needs and leaves the rest to the next turn, so requests are never held up by it.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverModule);
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
db.pragma('synchronous = NORMAL');
const checkpoint = () => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result && result.checkpointed > 0) parentPort.postMessage({ copied: result.checkpointed });
  } catch (err) {
    // SQLITE_BUSY and the like: the next turn tries again.
    if (!/busy|locked/i.test(String(err && err.message))) throw err;
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/**
 * Moves SQLite's checkpoints off the event loop (embedded shape only). In WAL mode the connection
 * that commits past `wal_autocheckpoint` pages copies the log into the database file and waits
 * for the disk twice (fsync) before its statement returns: with the audit writing a batch every
 * 100 ms that was Warden's main thread blocked on the disk every few seconds, every request in
 * flight waiting with it. A worker thread with a connection of its own checkpoints instead, as the
 * SQLite documentation suggests for this case (https://www.sqlite.org/wal.html#ckpt); the main
 * connection's own checkpoint stays as a fallback at a larger log size. If the worker cannot run,
 * the main connection checkpoints as before.
 */
@Injectable()
export class SqliteCheckpointer implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('database');
  private worker: Worker | undefined;
  private runs = 0;
  private framesCopied = 0;
  private readonly intervalMs: number;
  private readonly fallbackPages: number;
  private readonly driverModule: string;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
    @Optional() @Inject(CHECKPOINTER_OPTIONS) options: CheckpointerOptions | null = null,
  ) {
    options ??= {};
    this.intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.fallbackPages = options.fallbackPages ?? FALLBACK_AUTOCHECKPOINT_PAGES;
    this.driverModule = options.driverModule ?? require.resolve('better-sqlite3');
  }

  onModuleInit(): void {
    const path = this.config.database.sqlitePath;
    if (this.config.database.kind !== 'sqlite' || !path || path === ':memory:') return;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, intervalMs: this.intervalMs, driverModule: this.driverModule },
    });
    this.worker = worker;
    this.setAutocheckpoint(this.fallbackPages);
    worker.on('message', (message: { copied: number }) => {
      this.runs++;
      this.framesCopied += message.copied;
    });
    worker.on('error', (err) => {
      this.logger.warn(
        `Background checkpoints stopped (${err.message.split('\n')[0]}); the database checkpoints on commit again`,
      );
    });
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.setAutocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    });
    // Not a reason to keep the process alive: the main connection checkpoints when it closes.
    worker.unref();
  }

  stats(): CheckpointStats {
    return { runs: this.runs, framesCopied: this.framesCopied, running: this.worker !== undefined };
  }

  async onApplicationShutdown(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.setAutocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    const timeout = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timeout);
  }

  private setAutocheckpoint(pages: number): void {
    if (!this.dataSource.isInitialized) return;
    const connection = (
      this.dataSource.driver as unknown as { databaseConnection?: { pragma(s: string): unknown } }
    ).databaseConnection;
    connection?.pragma(`wal_autocheckpoint = ${pages}`);
  }
}
