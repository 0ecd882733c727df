import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryRunner } from 'typeorm';

/**
 * The scheduled jobs' lock ids: any fixed numbers, the same in every Warden instance (and every
 * version of it: a rolling deploy runs two side by side), distinct from the migrations' lock.
 */
export const JOB_LOCKS = {
  auditPurgeRun: 0x61756474, // "audt"
  auditPurgeFiring: 0x61756466, // "audf"
  apiTokenCleanup: 0x746f6b63, // "tokc"
  spiTokenSweep: 0x73706973, // "spis"
  keyRotation: 0x6b657973, // "keys"
} as const;

/** SQLite is one process's file: a flag per database and job in this process is the whole lock. */
const heldOnSqlite = new WeakMap<DataSource, Set<number>>();

/**
 * Scheduled jobs run on one instance at a time (docs/operations.md#the-scaled-shape). `runAlone`
 * runs the work only if no other instance runs the same job now: on PostgreSQL a session-level
 * advisory lock, held on one pooled connection for the whole of the work and released by it (or by
 * the connection's end, should the process die). A job that finds the lock taken is skipped, not
 * queued: the instance that holds it is doing that very work.
 */
@Injectable()
export class JobLock {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Returns false, without running `work`, when another instance holds the job's lock. */
  async runAlone(id: number, work: () => Promise<void>): Promise<boolean> {
    if (this.dataSource.options.type !== 'postgres') {
      let held = heldOnSqlite.get(this.dataSource);
      if (!held) heldOnSqlite.set(this.dataSource, (held = new Set()));
      if (held.has(id)) return false;
      held.add(id);
      try {
        await work();
      } finally {
        held.delete(id);
      }
      return true;
    }
    const runner = this.dataSource.createQueryRunner() as QueryRunner & {
      releasePostgresConnection(err?: Error): Promise<void>;
    };
    let broken: Error | undefined;
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [id]);
      if (!locked) return false;
      try {
        await work();
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [id]).catch((err) => {
          // A connection that may still hold the lock must not go back to the pool.
          broken = err instanceof Error ? err : new Error(String(err));
        });
      }
      return true;
    } finally {
      await runner.releasePostgresConnection(broken);
    }
  }
}
