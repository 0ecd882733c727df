import { AuditWriter } from '../../src/audit/audit-writer.service';
import { AuditRepository, AuditRow } from '../../src/audit/audit.repository';
import type { AuditEntryView } from '../../src/audit/dto/audit.dto';
import { TestApp } from './app';
import { adminAuth } from './factories';
import { http } from './http';

/** Writes what is buffered, then reads the audit log through the admin API, newest first. */
export async function auditEvents(
  t: TestApp,
  query: Record<string, string> = {},
): Promise<AuditEntryView[]> {
  await t.app.get(AuditWriter).flush();
  const res = await http(
    `${t.url}/admin/audit?${new URLSearchParams({ limit: '1000', ...query })}`,
    {
      headers: { authorization: adminAuth() },
    },
  );
  if (res.status !== 200) throw new Error(`audit query failed: ${res.status} ${res.text}`);
  return res.body.items;
}

/** Every stored row, as stored, for checks that no secret reached the table. */
export async function rawAuditTable(t: TestApp): Promise<string> {
  await t.app.get(AuditWriter).flush();
  return JSON.stringify(await t.dataSource.query('SELECT * FROM audit_log'));
}

export function auditRow(overrides: Partial<AuditRow> = {}): AuditRow {
  return {
    at: new Date(),
    event: 'access.allowed',
    outcome: 'allowed',
    actor: null,
    authMethod: null,
    credentialId: null,
    ip: null,
    method: null,
    path: null,
    status: null,
    reason: null,
    userAgent: null,
    requestId: null,
    details: null,
    ...overrides,
  };
}

/** Inserts rows straight into the table, in the writer's batch size. */
export async function seedAudit(t: TestApp, rows: AuditRow[]): Promise<void> {
  const repository = t.app.get(AuditRepository);
  for (let i = 0; i < rows.length; i += 500) await repository.insertMany(rows.slice(i, i + 500));
}
