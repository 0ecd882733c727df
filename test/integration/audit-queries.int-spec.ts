import { JobLock } from '../../src/common/database/job-lock';
import { AuditEntryEntity } from '../../src/audit/audit-entry.entity';
import { AuditFilter, AuditRepository, AuditRow } from '../../src/audit/audit.repository';
import { DATABASES, databaseReady, itWhen } from '../support/app';
import { auditRow } from '../support/audit';
import { openTestDatabase, TestDatabase } from '../support/database';

const ROWS = 20_000;

/**
 * Every filter of GET /admin/audit is answered from an index, not by reading the table: the
 * plans are checked on a table shaped like a real one (mostly allowed decisions, many users).
 */
describe.each(DATABASES)('audit queries use their indexes (%s)', (database) => {
  let db: TestDatabase;
  let sut: AuditRepository;
  let ready = false;
  const statements: { sql: string; params: unknown[] }[] = [];

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    db = await openTestDatabase(database);
    const { dataSource } = db;
    sut = new AuditRepository(
      dataSource,
      dataSource.getRepository(AuditEntryEntity),
      new JobLock(dataSource),
    );
    const start = Date.now() - ROWS * 1000;
    const rows: AuditRow[] = Array.from({ length: ROWS }, (_, i) => {
      const rare = i % 50 === 0;
      return auditRow({
        at: new Date(start + i * 1000),
        event: rare ? (i % 100 === 0 ? 'access.denied' : 'auth.login.failed') : 'access.allowed',
        outcome: rare ? (i % 100 === 0 ? 'denied' : 'failure') : 'allowed',
        actor: `user-${i % 500}`,
        ip: `10.0.${i % 250}.1`,
        credentialId: `cred-${i % 1000}`,
      });
    });
    for (let i = 0; i < rows.length; i += 500) await sut.insertMany(rows.slice(i, i + 500));
    await dataSource.query(database === 'postgres' ? 'ANALYZE audit_log' : 'ANALYZE');
    // Catch the statements the repository sends, to ask the database how it runs them.
    (dataSource as unknown as { logger: object }).logger = {
      logQuery: (sql: string, params?: unknown[]) => statements.push({ sql, params: params ?? [] }),
      logQueryError: () => undefined,
      logQuerySlow: () => undefined,
      logSchemaBuild: () => undefined,
      logMigration: () => undefined,
      log: () => undefined,
    };
  }, 120_000);
  afterAll(async () => db?.close());

  const maybe = itWhen(database);

  async function plan(filter: AuditFilter): Promise<string> {
    statements.length = 0;
    const page = await sut.page(filter, 50);
    expect(page.length).toBeGreaterThan(0);
    const select = statements.find((s) => /^SELECT/i.test(s.sql))!;
    const rows: Record<string, unknown>[] = await db.dataSource.query(
      database === 'postgres' ? `EXPLAIN ${select.sql}` : `EXPLAIN QUERY PLAN ${select.sql}`,
      select.params,
    );
    return rows.map((r) => Object.values(r).join(' ')).join('\n');
  }

  const cases: [string, AuditFilter, string][] = [
    ['newest first, no filter', {}, 'idx_audit_at'],
    ['a time range', { from: new Date(Date.now() - 3_600_000) }, 'idx_audit_at'],
    ['an actor', { actor: 'user-7' }, 'idx_audit_actor'],
    ['an address', { ip: '10.0.7.1' }, 'idx_audit_ip'],
    ['a credential', { credentialId: 'cred-7' }, 'idx_audit_credential'],
    ['the denials', { outcome: 'denied' }, 'idx_audit_outcome'],
    ['a rare event', { event: 'auth.login.failed' }, 'idx_audit_event'],
  ];
  for (const [name, filter, index] of cases) {
    maybe(`${name}: ${index}`, async () => {
      const shown = await plan(filter);
      expect(shown).toContain(index);
      expect(shown).not.toMatch(/Seq Scan|SCAN audit_log(?! USING)|USE TEMP B-TREE FOR ORDER BY/);
    });
  }
});
