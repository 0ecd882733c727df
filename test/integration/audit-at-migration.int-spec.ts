import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { AuditEntryEntity } from '../../src/audit/audit-entry.entity';
import { AuditRepository } from '../../src/audit/audit.repository';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source';
import { JobLock } from '../../src/common/database/job-lock';
import { runMigrations } from '../../src/database/migrate';
import { AuditAtMilliseconds1764300000000 } from '../../src/database/migrations/1764300000000-audit-at-milliseconds';
import { auditRow } from '../support/audit';

/**
 * An embedded database from before the audit log kept `at` as milliseconds: its rows, stored as
 * TypeORM's UTC text, come out of the migration as the same instants, to the millisecond, and
 * every query that compares instants finds them.
 */
describe('audit `at` as milliseconds on SQLite (migration)', () => {
  const stamps = [
    '1999-12-31 23:59:59.999',
    '2026-01-01 00:00:00.000',
    '2026-11-26 04:23:17.394',
    '2026-11-26 04:23:17.395',
  ];
  const instant = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`);
  let dir: string;
  let options: DataSourceOptions;
  let dataSource: DataSource | undefined;
  let indexesBefore: unknown[];
  const auditIndexes = (source: DataSource): Promise<unknown[]> =>
    source.query(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' ORDER BY name`,
    );

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-at-'));
    const sqlitePath = join(dir, 'warden.sqlite');
    options = buildDataSourceOptions({
      database: { kind: 'sqlite', url: `sqlite:${sqlitePath}`, sqlitePath },
    });
    const before = await new DataSource({
      ...options,
      migrations: MIGRATIONS.filter((m) => m !== AuditAtMilliseconds1764300000000),
    }).initialize();
    await runMigrations(before);
    for (const [i, at] of stamps.entries()) {
      await before.query(
        `INSERT INTO audit_log (at, event, outcome, request_id) VALUES (?, 'access.allowed', 'allowed', ?)`,
        [at, `old-${i}`],
      );
    }
    indexesBefore = await auditIndexes(before);
    await before.destroy();
    dataSource = await new DataSource(options).initialize();
    await runMigrations(dataSource);
  });
  afterEach(async () => {
    await dataSource?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores each old instant as its milliseconds since the epoch', async () => {
    const rows: { at: unknown; kind: string }[] = await dataSource!.query(
      'SELECT at, typeof(at) AS kind FROM audit_log ORDER BY id',
    );
    expect(rows).toEqual(stamps.map((s) => ({ at: instant(s), kind: 'integer' })));
  });

  it('keeps every audit index, as it was defined', async () => {
    expect(indexesBefore).toHaveLength(6);
    expect(await auditIndexes(dataSource!)).toEqual(indexesBefore);
  });

  it('lists, filters by time and purges the migrated rows beside new ones', async () => {
    const repository = new AuditRepository(
      dataSource!,
      dataSource!.getRepository(AuditEntryEntity),
      new JobLock(dataSource!),
    );
    const now = Date.now();
    await repository.insertMany([auditRow({ at: new Date(now), requestId: 'new' })]);

    const all = await repository.page({}, 10);
    expect(all.map((r) => [r.requestId, r.at.getTime()])).toEqual([
      ['new', now],
      ['old-3', instant(stamps[3])],
      ['old-2', instant(stamps[2])],
      ['old-1', instant(stamps[1])],
      ['old-0', instant(stamps[0])],
    ]);
    // Keyset pagination resumes strictly after a millisecond-apart neighbour.
    const next = await repository.page({}, 1, { at: new Date(instant(stamps[3])), id: '4' });
    expect(next.map((r) => r.requestId)).toEqual(['old-2']);
    const inRange = await repository.page(
      { from: new Date(instant(stamps[1])), to: new Date(instant(stamps[3])) },
      10,
    );
    expect(inRange.map((r) => r.requestId)).toEqual(['old-2', 'old-1']);

    expect(await repository.removeOlderThan(new Date(instant(stamps[2])), 100)).toBe(2);
    const left = await repository.page({}, 10);
    expect(left.map((r) => r.requestId)).toEqual(['new', 'old-3', 'old-2']);
  });

  it('turns the instants back into text when reverted', async () => {
    await dataSource!.undoLastMigration({ transaction: 'each' });
    const rows: { at: unknown }[] = await dataSource!.query('SELECT at FROM audit_log ORDER BY id');
    expect(rows.map((r) => r.at)).toEqual(stamps);
  });
});
