import { AuditEntryEntity } from '../../src/audit/audit-entry.entity';
import { AuditRepository, AuditRow } from '../../src/audit/audit.repository';
import { JobLock } from '../../src/common/database/job-lock';
import { DATABASES, databaseReady, itWhen } from '../support/app';
import { auditRow } from '../support/audit';
import { openTestDatabase, TestDatabase } from '../support/database';

/**
 * A batch reaches the table whole or not at all: the writer retries a refused batch (halving it
 * to find the refused row), so a batch that left some of its rows behind would store them twice.
 * On SQLite a batch is several statements in one transaction; the rows of a statement refused
 * half-way must go with the rest.
 */
describe.each(DATABASES)('audit batches on %s', (kind) => {
  let db: TestDatabase;
  let sut: AuditRepository;
  let ready = false;

  beforeAll(async () => {
    ready = await databaseReady(kind);
    if (!ready) return;
    db = await openTestDatabase(kind);
    sut = new AuditRepository(
      db.dataSource,
      db.dataSource.getRepository(AuditEntryEntity),
      new JobLock(db.dataSource),
    );
  });
  afterAll(async () => db?.close());
  beforeEach(async () => {
    if (ready) await db.dataSource.query('DELETE FROM audit_log');
  });
  const maybe = itWhen(kind);

  const batch = (size: number): AuditRow[] =>
    Array.from({ length: size }, (_, i) => auditRow({ path: `/rest/api/2/issue/BATCH-${i}` }));

  async function storedPaths(): Promise<string[]> {
    const rows: { path: string }[] = await db.dataSource.query(
      'SELECT path FROM audit_log ORDER BY id',
    );
    return rows.map((r) => r.path);
  }

  maybe('stores every row of a batch once, in order, whatever its size', async () => {
    // 73 rows: statements of 50, 10 and 1 rows on SQLite.
    const rows = batch(73);
    await sut.insertMany(rows);
    expect(await storedPaths()).toEqual(rows.map((r) => r.path));
  });

  maybe('a row refused half-way through a statement leaves none of its batch behind', async () => {
    const rows = batch(73);
    // NOT NULL: the row the database refuses is the 56th, in the middle of a 10-row statement
    // on SQLite, after a 50-row statement that went through.
    rows[55] = { ...rows[55], event: null as unknown as string };
    // The message, not the error itself: the driver's errors may come from another test
    // file's module registry in the same worker, which toThrow does not recognise.
    const refused = await sut.insertMany(rows).then(
      () => 'stored',
      (err: { message?: unknown }) => String(err?.message),
    );
    expect(refused).toMatch(/null/i);
    expect(await storedPaths()).toEqual([]);

    rows[55] = auditRow({ path: '/rest/api/2/issue/BATCH-55' });
    await sut.insertMany(rows);
    expect(await storedPaths()).toEqual(rows.map((r) => r.path));
  });
});
