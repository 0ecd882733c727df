import { JobLock } from '../../src/common/database/job-lock';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { AuditEntryEntity } from '../../src/audit/audit-entry.entity';
import { AuditRepository } from '../../src/audit/audit.repository';
import { AuditWriter } from '../../src/audit/audit-writer.service';
import { Clock } from '../../src/common/clock';
import { MetricsService } from '../../src/metrics/metrics.service';
import { itWhen } from '../support/app';
import { openTestDatabase, TestDatabase } from '../support/database';
import { POSTGRES_ADMIN_URL, requirePostgres } from '../support/postgres';

/**
 * The writer against a real PostgreSQL that goes away and comes back: nothing accepted while it
 * is away is lost, nothing is dropped, and everything is written, in order, once it is back.
 */
describe('audit writer while PostgreSQL is unavailable', () => {
  let db: TestDatabase;
  let admin: Client;
  let sut: AuditWriter;
  let name: string;
  let ready = false;

  beforeAll(async () => {
    ready = await requirePostgres();
    if (!ready) return;
    db = await openTestDatabase('postgres');
    name = new URL((db.dataSource.options as { url: string }).url).pathname.slice(1);
    admin = new Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    const repository = new AuditRepository(
      db.dataSource,
      db.dataSource.getRepository(AuditEntryEntity),
      new JobLock(db.dataSource),
    );
    sut = new AuditWriter(repository, new Clock(), new MetricsService());
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    if (!ready) return;
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin.end();
    await db.close();
  });

  const maybe = itWhen('postgres');
  const record = (from: number, count: number) => {
    for (let i = from; i < from + count; i++)
      sut.record({ event: 'access.allowed', outcome: 'allowed', requestId: `outage-${i}` });
  };
  /** Read with a connection of its own, not through the pool under test. */
  const stored = async (): Promise<string[]> => {
    const own = new Client({ connectionString: (db.dataSource.options as { url: string }).url });
    await own.connect();
    try {
      const { rows } = await own.query('SELECT request_id FROM audit_log ORDER BY id');
      return rows.map((r: { request_id: string }) => r.request_id);
    } finally {
      await own.end();
    }
  };

  maybe('buffers through the outage and writes everything once the database is back', async () => {
    record(0, 300);
    await sut.flush();

    // The database goes away: its sessions are ended and no new one is let in.
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [
      name,
    ]);
    record(300, 1200);
    await expect(sut.flush()).rejects.toThrow();
    await expect(sut.flush()).rejects.toThrow();
    expect(sut.stats()).toMatchObject({ buffered: 1200, flushed: 300, dropped: 0 });

    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    record(1500, 10);
    await sut.flush();

    expect(sut.stats()).toMatchObject({ buffered: 0, flushed: 1510, dropped: 0 });
    expect(await stored()).toEqual(Array.from({ length: 1510 }, (_, i) => `outage-${i}`));
  });
});
