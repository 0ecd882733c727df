import { request as httpRequest } from 'node:http';
import { AuditRepository, AuditRow } from '../../src/audit/audit.repository';
import { AuditWriter } from '../../src/audit/audit-writer.service';
import type { AuditEntryView } from '../../src/audit/dto/audit.dto';
import { AuditRetentionJob } from '../../src/audit/retention/audit-retention.job';
import { AuditRetentionService } from '../../src/audit/retention/audit-retention.service';
import { DEFAULT_SETTINGS } from '../../src/settings/settings.defaults';
import { SettingsRepository } from '../../src/settings/settings.repository';
import { SettingsService } from '../../src/settings/settings.service';
import { DATABASES, databaseReady, startApp, TestApp, itWhen } from '../support/app';
import { auditEvents, auditRow, seedAudit } from '../support/audit';
import { eventually } from '../support/eventually';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';
import { operatorPatch, patchSettings } from '../support/settings';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** The seeded rows live in a window of their own, away from the rows the tests' requests add. */
const BASE = Date.parse('2025-03-01T00:00:00Z');
const ACTORS = ['alice', 'bob', 'carol', null];
const EVENTS = ['access.allowed', 'access.denied', 'auth.login.failed', 'user.created'];
const OUTCOMES: Record<string, string> = {
  'access.allowed': 'allowed',
  'access.denied': 'denied',
  'auth.login.failed': 'failure',
  'user.created': 'success',
};
const IPS = ['203.0.113.1', '203.0.113.2', '2001:db8::7'];
/** Parses, never fires: there is no 30 February. */
const NEVER_FIRES = '0 0 30 2 *';

/** 240 rows; every three share an instant, so the keyset's tie-break on id is exercised. */
function seededRows(): AuditRow[] {
  return Array.from({ length: 240 }, (_, i) => {
    const event = EVENTS[i % 4];
    return auditRow({
      at: new Date(BASE + Math.floor(i / 3) * MINUTE),
      event,
      outcome: OUTCOMES[event],
      actor: ACTORS[(i >> 1) % 4],
      ip: IPS[i % 3],
      credentialId: `cred-${i % 5}`,
      requestId: `seed-${i}`,
      method: 'GET',
      path: i === 3 ? '/rest/a,b"c' : `/rest/api/${i}`,
      userAgent: i === 3 ? '=HYPERLINK("http://evil.example")' : 'seed-client',
      status: 200,
      details: i % 10 === 0 ? JSON.stringify({ n: i }) : null,
    });
  });
}

describe.each(DATABASES)('audit store (%s)', (database) => {
  let t: TestApp;
  let ready = false;
  const seeded = seededRows();

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    t = await startApp({ database });
    await seedAudit(t, seeded);
  });
  afterAll(async () => t?.close());

  const maybe = itWhen(database);
  const window = { from: new Date(BASE).toISOString(), to: new Date(BASE + DAY).toISOString() };

  /** Follows nextCursor to the end, checking each page's size. */
  async function everyPage(query: Record<string, string>, limit: number): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const params = new URLSearchParams({ ...window, ...query, limit: String(limit) });
      if (cursor) params.set('cursor', cursor);
      const res = await http(`${t.url}/admin/audit?${params}`, {
        headers: { authorization: adminAuth() },
      });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      seen.push(...res.body.items.map((e: AuditEntryView) => e.requestId));
      cursor = res.body.nextCursor;
      if (!cursor) return seen;
    }
    throw new Error('pagination did not end');
  }

  /** The same filter over the seeded rows, newest first, later-inserted first among equals. */
  function expected(match: (row: AuditRow) => boolean): string[] {
    return seeded
      .map((row, index) => ({ row, index }))
      .filter(({ row }) => match(row))
      .sort((a, b) => b.row.at.getTime() - a.row.at.getTime() || b.index - a.index)
      .map(({ row }) => row.requestId!);
  }

  const cases: [string, Record<string, string>, (row: AuditRow) => boolean][] = [
    ['no filter', {}, () => true],
    ['actor', { actor: 'bob' }, (r) => r.actor === 'bob'],
    ['event', { event: 'access.denied' }, (r) => r.event === 'access.denied'],
    ['event family', { event: 'access.*' }, (r) => r.event.startsWith('access.')],
    ['outcome', { outcome: 'failure' }, (r) => r.outcome === 'failure'],
    ['ip', { ip: '2001:db8::7' }, (r) => r.ip === '2001:db8::7'],
    ['credential', { credential: 'cred-3' }, (r) => r.credentialId === 'cred-3'],
    [
      'time range',
      {
        from: new Date(BASE + 10 * MINUTE).toISOString(),
        to: new Date(BASE + 20 * MINUTE).toISOString(),
      },
      (r) => r.at.getTime() >= BASE + 10 * MINUTE && r.at.getTime() < BASE + 20 * MINUTE,
    ],
    [
      'several at once',
      { actor: 'alice', outcome: 'allowed', from: new Date(BASE + 30 * MINUTE).toISOString() },
      (r) => r.actor === 'alice' && r.outcome === 'allowed' && r.at.getTime() >= BASE + 30 * MINUTE,
    ],
  ];

  for (const [name, query, match] of cases) {
    maybe(`filter by ${name}: exactly the matching rows, in order, across pages`, async () => {
      const want = expected(match);
      expect(want.length).toBeGreaterThan(0);
      expect(await everyPage(query, 7)).toEqual(want);
      // One big page says the same as many small ones.
      expect(await everyPage(query, 1000)).toEqual(want);
    });
  }

  maybe('refuses a forged cursor and a reversed range with a 400 problem', async () => {
    const forged = await http(
      `${t.url}/admin/audit?cursor=${Buffer.from('x|1;DROP').toString('base64url')}`,
      {
        headers: { authorization: adminAuth() },
      },
    );
    expect(forged.status).toBe(400);
    expect(forged.body.code).toBe('invalid_cursor');
    const reversed = await http(
      `${t.url}/admin/audit?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z`,
      { headers: { authorization: adminAuth() } },
    );
    expect(reversed.status).toBe(400);
    const bad = await http(`${t.url}/admin/audit?event=a%27%20OR%201=1&limit=0`, {
      headers: { authorization: adminAuth() },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
  });

  maybe(
    'dates and cursors the databases cannot take are a 400, in the listing and the export',
    async () => {
      const get = (path: string) =>
        http(`${t.url}${path}`, { headers: { authorization: adminAuth() } });
      for (const from of ['2026-W05', '20261101', '0001-01-01T00:00:00Z']) {
        const res = await get(`/admin/audit?from=${from}`);
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
      }
      const huge = Buffer.from('2026-01-01T00:00:00.000Z|9999999999999999999').toString(
        'base64url',
      );
      expect((await get(`/admin/audit?cursor=${huge}`)).body.code).toBe('invalid_cursor');
      const ancient = Buffer.from('-271821-04-20T00:00:00.000Z|1').toString('base64url');
      expect((await get(`/admin/audit?cursor=${ancient}`)).body.code).toBe('invalid_cursor');
      const reversed = await get(
        '/admin/audit/export?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z',
      );
      expect(reversed.status).toBe(400);
      expect(reversed.body.code).toBe('invalid_time_range');
      // A NUL in a filter (PostgreSQL holds none in text) is refused before any query, on every
      // database: a 400 problem naming the field, before any byte of the export.
      for (const format of ['csv', 'ndjson']) {
        const res = await get(`/admin/audit/export?format=${format}&actor=%00`);
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['actor']);
      }
    },
  );

  maybe('the audit is for administrators only', async () => {
    const anonymous = await http(`${t.url}/admin/audit`);
    expect(anonymous.status).toBe(401);
  });

  maybe('exports the same rows as NDJSON and as CSV (quoted, formula cells defused)', async () => {
    const query = new URLSearchParams({ ...window, actor: 'bob' });
    const want = expected((r) => r.actor === 'bob');

    const ndjson = await http(`${t.url}/admin/audit/export?${query}&format=ndjson`, {
      headers: { authorization: adminAuth() },
    });
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get('content-type')).toContain('application/x-ndjson');
    expect(ndjson.headers.get('content-disposition')).toMatch(
      /^attachment; filename="audit-.*\.ndjson"$/,
    );
    const objects = ndjson.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(objects.map((o) => o.requestId)).toEqual(want);

    const csv = await http(`${t.url}/admin/audit/export?${query}&format=csv`, {
      headers: { authorization: adminAuth() },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const [header, ...records] = parseCsv(csv.text);
    expect(header).toEqual([
      'id',
      'at',
      'event',
      'outcome',
      'actor',
      'authMethod',
      'credentialId',
      'ip',
      'method',
      'path',
      'status',
      'reason',
      'userAgent',
      'requestId',
      'details',
    ]);
    expect(records.map((r) => r[13])).toEqual(want);
    const tricky = records.find((r) => r[13] === 'seed-3')!;
    expect(tricky[9]).toBe('/rest/a,b"c');
    expect(tricky[12]).toBe(`'=HYPERLINK("http://evil.example")`);
    expect(objects.find((o) => o.requestId === 'seed-10')?.details).toEqual({ n: 10 });
  });

  maybe(
    'streams an export of 100k rows, reading pages only as fast as the client takes them',
    async () => {
      const start = Date.parse('2024-01-01T00:00:00Z');
      const many: AuditRow[] = Array.from({ length: 100_000 }, (_, i) =>
        auditRow({
          at: new Date(start + i * 1000),
          actor: 'bulk',
          path: `/rest/api/2/issue/BULK-${i}`,
          requestId: `bulk-${i}`,
          userAgent: 'bulk-loader/1.0',
        }),
      );
      await seedAudit(t, many);
      const repository = t.app.get(AuditRepository);
      const pages = jest.spyOn(repository, 'page');
      try {
        const url = new URL(
          `${t.url}/admin/audit/export?format=ndjson&actor=bulk&to=2025-01-01T00:00:00Z`,
        );
        const { lines, pagesWhilePaused } = await new Promise<{
          lines: number;
          pagesWhilePaused: number;
        }>((resolve, reject) => {
          const req = httpRequest(url, { headers: { authorization: adminAuth() } }, (res) => {
            let count = 0;
            let rest = '';
            let paused: number | undefined;
            let last = Infinity;
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              const text = rest + chunk;
              const parts = text.split('\n');
              rest = parts.pop()!;
              for (const line of parts) {
                const n = Number(JSON.parse(line).requestId.slice(5));
                if (n >= last) reject(new Error(`out of order: ${n} after ${last}`));
                last = n;
                count++;
              }
              if (paused === undefined) {
                // A slow client: stop reading for a while and see how far the server ran ahead.
                res.pause();
                setTimeout(() => {
                  paused = pages.mock.calls.length;
                  res.resume();
                }, 750);
                paused = -1;
              }
            });
            res.on('end', () => resolve({ lines: count, pagesWhilePaused: paused! }));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end();
        });
        expect(lines).toBe(100_000);
        // 100 pages in all; while the client was not reading, only the few that fit the socket's
        // buffers were read.
        expect(pages.mock.calls.length).toBeGreaterThanOrEqual(100);
        expect(pagesWhilePaused).toBeGreaterThan(0);
        expect(pagesWhilePaused).toBeLessThan(40);
      } finally {
        pages.mockRestore();
      }
    },
  );

  maybe(
    'the retention job removes exactly the rows older than retentionDays, in batches',
    async () => {
      const now = Date.now();
      const old = Array.from({ length: 4500 }, (_, i) =>
        auditRow({ at: new Date(now - 120 * DAY + i), requestId: `old-${i}`, actor: 'retention' }),
      );
      const kept = Array.from({ length: 30 }, (_, i) =>
        auditRow({ at: new Date(now - 80 * DAY + i), requestId: `kept-${i}`, actor: 'retention' }),
      );
      await seedAudit(t, [...old, ...kept]);
      await operatorPatch(t, { audit: { retentionDays: 90, maxEntries: 1_000_000 } });
      const repository = t.app.get(AuditRepository);
      const cutoff = new Date(now - 90 * DAY);
      // The seeded 2024 and 2025 rows above are older than 90 days too.
      const older = 4500 + 240 + 100_000;
      expect(await repository.count({ to: cutoff })).toBe(older);

      const run = await t.app.get(AuditRetentionService).purge('manual');

      expect(run).toMatchObject({ deletedByAge: older, deletedByCount: 0, complete: true });
      expect(await repository.count({ to: cutoff })).toBe(0);
      const left = await auditEvents(t, { actor: 'retention' });
      expect(left.map((e) => e.requestId).sort()).toEqual(kept.map((r) => r.requestId).sort());

      const state = await http(`${t.url}/admin/audit/retention`, {
        headers: { authorization: adminAuth() },
      });
      expect(state.status).toBe(200);
      expect(state.body).toMatchObject({
        cron: '0 * * * *',
        timeZone: 'UTC',
        retentionDays: 90,
        running: false,
        lastRun: { trigger: 'manual', deletedByAge: older, deletedByCount: 0 },
      });
      expect(state.body.lastRun.durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(state.body.nextRunAt)).toBeGreaterThan(Date.now());
      const metrics = await http(`${t.url}/metrics`);
      const last = metrics.text
        .split('\n')
        .find((l) => l.startsWith('warden_audit_last_purge_timestamp_seconds '));
      expect(Number(last?.split(' ')[1]) * 1000).toBeGreaterThanOrEqual(now);
      expect(metrics.text).toContain(`warden_audit_rows_purged_total{reason="age"} ${older}`);
      const [purged] = await auditEvents(t, { event: 'audit.purged' });
      expect(purged.details).toMatchObject({ deletedByAge: older });
    },
  );

  maybe('and then the oldest rows beyond maxEntries, keeping exactly the newest ones', async () => {
    const now = Date.now();
    await seedAudit(
      t,
      Array.from({ length: 1500 }, (_, i) =>
        auditRow({ at: new Date(now - DAY + i * 10), requestId: `count-${i}` }),
      ),
    );
    await operatorPatch(t, { audit: { retentionDays: 90, maxEntries: 1000 } });
    try {
      await t.app.get(AuditWriter).flush();
      const repository = t.app.get(AuditRepository);
      const total = await repository.count();
      expect(total).toBeGreaterThan(1000);
      const newest = (await repository.page({}, 1000)).map((e) => String(e.id));

      const run = await t.app.get(AuditRetentionService).purge('manual');

      expect(run).toMatchObject({ deletedByAge: 0, deletedByCount: total - 1000 });
      const left = await t.dataSource.query('SELECT id FROM audit_log');
      // Exactly the newest thousand are left; only rows written after the run may join them.
      const ids = new Set(left.map((r: { id: unknown }) => String(r.id)));
      for (const id of newest) expect(ids.has(id)).toBe(true);
      expect(ids.size).toBe(1000);
    } finally {
      await operatorPatch(t, { audit: { maxEntries: 1_000_000 } });
    }
  });

  maybe('one run at a time: a second purge while one holds the lock does nothing', async () => {
    const retention = t.app.get(AuditRetentionService);
    let inner: unknown = 'not run';
    const held = await t.app.get(AuditRepository).withPurgeLock(async () => {
      inner = await retention.purge('manual');
    });
    expect(held).toBe(true);
    expect(inner).toBeNull();
    const res = await http(`${t.url}/admin/audit/retention/run`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
    });
    expect(res.status).toBe(200);
    expect(res.body.ran).toBe(true);
  });

  maybe('a new cron in the settings reschedules the job without a restart', async () => {
    await patchSettings(t, { audit: { purgeCron: '*/2 * * * * *' } });
    try {
      const state = await http(`${t.url}/admin/audit/retention`, {
        headers: { authorization: adminAuth() },
      });
      expect(state.body.cron).toBe('*/2 * * * * *');
      expect(Date.parse(state.body.nextRunAt) - Date.now()).toBeLessThanOrEqual(2000);
      const since = new Date().toISOString();
      let scheduled: AuditEntryView[] = [];
      for (let i = 0; i < 50 && scheduled.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        scheduled = (await auditEvents(t, { event: 'audit.purged', from: since })).filter(
          (e) => e.reason === 'schedule',
        );
      }
      expect(scheduled.length).toBeGreaterThan(0);
    } finally {
      await patchSettings(t, { audit: { purgeCron: '0 * * * *' } });
    }
    const back = await http(`${t.url}/admin/audit/retention`, {
      headers: { authorization: adminAuth() },
    });
    expect(back.body.cron).toBe('0 * * * *');
    expect(new Date(back.body.nextRunAt).getUTCMinutes()).toBe(0);
  });

  maybe(
    'a stored cron that never fires (written before it was refused): the running instance keeps its job, a new one starts on the default',
    async () => {
      const repository = t.app.get(SettingsRepository);
      const row = (await repository.load())!;
      const document = JSON.parse(row.document);
      document.audit.purgeCron = NEVER_FIRES;
      expect(await repository.replace(row.version, JSON.stringify(document), 'older-version')).toBe(
        true,
      );
      const settings = t.app.get(SettingsService);
      expect(
        await eventually(
          async () => settings.get().audit.purgeCron,
          (cron) => cron === NEVER_FIRES,
        ),
      ).toBe(NEVER_FIRES);
      let second: TestApp | undefined;
      try {
        const retention = (on: TestApp) =>
          http(`${on.url}/admin/audit/retention`, { headers: { authorization: adminAuth() } });
        const kept = await retention(t);
        expect(kept.status).toBe(200);
        expect(kept.body.cron).toBe('0 * * * *');
        expect(new Date(kept.body.nextRunAt).getUTCMinutes()).toBe(0);
        // Not `database`: that would make a database of its own. Only t's close drops this one.
        second = await startApp({
          env: {
            DATABASE_URL: t.env.DATABASE_URL,
            WARDEN_ENCRYPTION_KEY: t.env.WARDEN_ENCRYPTION_KEY,
          },
        });
        expect(second.app.get(SettingsService).get().audit.purgeCron).toBe(NEVER_FIRES);
        const fallback = await retention(second);
        expect(fallback.status).toBe(200);
        expect(fallback.body.cron).toBe(DEFAULT_SETTINGS.audit.purgeCron);
        expect(new Date(fallback.body.nextRunAt).getUTCMinutes()).toBe(0);
      } finally {
        await patchSettings(t, { audit: { purgeCron: '0 * * * *' } });
        await second?.close();
      }
      expect(t.app.get(AuditRetentionJob).expression).toBe('0 * * * *');
    },
  );
});

/** RFC 4180: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  return records;
}
