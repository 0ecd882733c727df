'use strict';
// The audit's CPU per decision, measured in isolation: the guard's row (AccessAudit.allowed, the
// status set when the response goes), the writer's buffer and its batched INSERTs, on a real
// database, at the pace of a busy server (a batch every 100 ms). Run by bench/run.js pinned to
// the server's core; prints one line of JSON. Usage: node bench/audit-cost.js <database-url>
//
// CPU is this process's own (user + system): on SQLite that is all of it; on PostgreSQL it is
// Warden's side only (building and sending the batch), the database server's work is elsewhere.

const path = require('node:path');
const { openAuditWriter } = require('./lib/audit-writer');

/** @type {(p: string) => any} a module of Warden's build */
const dist = (p) => require(path.join(__dirname, '..', 'dist', p));
const { AccessAudit } = dist('restrictions/access-audit');

const ROWS = Number(process.env.AUDIT_COST_ROWS || 200_000);
const WARM_ROWS = 20_000;
/** Rows per flush: 100 ms of a server answering 10,000 requests a second. */
const PER_FLUSH = 1000;

async function main() {
  const { kind, writer, metrics, close } = await openAuditWriter(process.argv[2]);
  try {
    const access = new AccessAudit(writer, metrics);
    const principal = {
      id: '5b0f3c1e-8a43-4c51-9d55-0d7c4f1a2b3c',
      username: 'admin',
      groups: ['warden-admins'],
      authMethod: 'access',
      credentialId: '8dec26a5-6bd0-4e3a-a054-9105aa649f34',
      scopes: ['read', 'write', 'admin'],
    };
    const headers = { 'user-agent': 'autocannon', authorization: 'Bearer x' };
    let n = 0;
    const decide = (/** @type {number} */ count) => {
      for (let i = 0; i < count; i++) {
        const row = access.allowed(
          'access',
          {
            ip: '127.0.0.1',
            method: 'GET',
            path: '/system/whoami',
            headers,
            requestId: `9f0c2a4e-1b7d-4e55-8a21-${String(++n).padStart(12, '0')}`,
          },
          { principal, rateLimit: null },
        );
        row.status = 200;
        writer.record(row);
      }
    };
    const run = async (/** @type {number} */ rows) => {
      for (let done = 0; done < rows; done += PER_FLUSH) {
        decide(PER_FLUSH);
        await writer.flush();
      }
    };
    await run(WARM_ROWS);
    const start = process.cpuUsage();
    const wallStart = process.hrtime.bigint();
    await run(ROWS);
    const cpu = process.cpuUsage(start);
    const wallUs = Number(process.hrtime.bigint() - wallStart) / 1000;
    const stats = writer.stats();
    if (stats.dropped !== 0 || stats.buffered !== 0) throw new Error(JSON.stringify(stats));
    process.stdout.write(
      `${JSON.stringify({
        database: kind,
        rows: ROWS,
        cpuUsPerRow: (cpu.user + cpu.system) / ROWS,
        wallUsPerRow: wallUs / ROWS,
      })}\n`,
    );
  } finally {
    await close();
  }
}

main().catch((err) => {
  process.stderr.write(`audit-cost: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
