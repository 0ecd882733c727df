// @ts-check
'use strict';
// The purge benchmark (PostgreSQL): p99 of the protected route while the retention job deletes
// BENCH_PURGE_ROWS audit rows, against its p99 just before, at the same fixed request rate.

const { randomBytes } = require('node:crypto');
const {
  WHOAMI_PATH,
  WARMUP_SECONDS,
  RATE_LIMIT,
  PURGE_ROWS,
  PURGE_LOAD_SHARE,
  PURGE_P99_TARGET,
  POSTGRES_URL,
  config,
} = require('./config');
const { log, stopChild, checkServerAlive } = require('./children');
const { getJson } = require('./http');
const { startWarden } = require('./warden');
const { patchSettings } = require('./warden-settings');
const { runLoad } = require('./runs');
const { runAuditCost } = require('./audit');
const { fmt } = require('./report');

/**
 * p99 of the protected route while the retention job deletes PURGE_ROWS rows, against its p99
 * just before, at the same fixed request rate (half of the measured capacity: latency under a
 * given load, not queueing at saturation). On a database of its own on PostgreSQL, with a Warden
 * of its own; skipped (and said) when PostgreSQL is not reachable. Also measures the audit's
 * CPU per row on PostgreSQL.
 */
async function purgeBench() {
  const { Client } = require('pg');
  const admin = new Client({ connectionString: POSTGRES_URL });
  try {
    await admin.connect();
  } catch (err) {
    const message = /** @type {Error} */ (err).message;
    log(`Purge benchmark skipped: PostgreSQL at ${POSTGRES_URL} is not reachable (${message})`);
    return { skipped: `PostgreSQL not reachable: ${message}` };
  }
  const database = `warden_bench_${randomBytes(4).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  /** @type {import('./warden').Warden | null} */
  let warden = null;
  /** @type {import('pg').Client | null} */
  let db = null;
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    warden = await startWarden({ name: 'warden-postgres', databaseUrl: url.toString() });
    await patchSettings(warden, { rateLimit: { ...RATE_LIMIT } });
    db = new Client({ connectionString: url.toString() });
    await db.connect();
    const auditCostPostgres = await runAuditCost(url.toString());
    if (auditCostPostgres) {
      log(
        `Audit on PostgreSQL: ${fmt(auditCostPostgres.cpuUsPerRow, 2)} µs of Warden's CPU per row ` +
          `(the database server's own work is not counted)`,
      );
    }
    log(`Purge benchmark (PostgreSQL): seeding ${PURGE_ROWS} audit rows past their retention…`);
    const seedStart = Date.now();
    await db.query(
      `INSERT INTO audit_log (at, event, outcome, actor, auth_method, credential_id, ip, method,
         path, status, user_agent, request_id)
       SELECT now() - interval '400 days' + g * interval '1 millisecond', 'access.allowed',
         'allowed', 'user' || (g % 500), 'access', 'cred-' || (g % 1000), '10.0.' || (g % 250) || '.1',
         'GET', '/rest/api/2/issue/BENCH-' || g, 200, 'bench-seed', 'seed-' || g
       FROM generate_series(1, $1::int) g`,
      [PURGE_ROWS],
    );
    await db.query('ANALYZE audit_log');
    log(`  seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
    const pair = await getJson(`${warden.base}/system/auth`, warden.basic);
    const spec = {
      connections: 10,
      pipelining: 1,
      url: `${warden.base}${WHOAMI_PATH}`,
      headers: { authorization: `Bearer ${pair.authentication}` },
      serverPid: warden.child.pid,
      warmup: WARMUP_SECONDS,
      duration: config.duration,
    };
    const capacity = await runLoad({ ...spec, connections: config.connections });
    const rate = Math.max(100, Math.round(capacity.measured.rps * PURGE_LOAD_SHARE));
    log(`  capacity ${fmt(capacity.measured.rps)} req/s; both runs at ${rate} req/s`);
    const before = await runLoad({ ...spec, overallRate: rate });
    const purgeStart = Date.now();
    /** @type {number | null} */
    let purgeEnd = null;
    const purging = fetch(`${warden.base}/admin/audit/retention/run`, {
      method: 'POST',
      headers: { authorization: warden.basic },
      signal: AbortSignal.timeout(30 * 60 * 1000),
    }).then(async (res) => {
      purgeEnd = Date.now();
      return { status: res.status, body: /** @type {any} */ (await res.json()) };
    });
    const during = await runLoad({ ...spec, overallRate: rate, warmup: 0 });
    const loadEnd = Date.now();
    const purged = await purging;
    checkServerAlive(warden, 'Warden (PostgreSQL)');
    const errors = [before, during].reduce((a, r) => a + r.measured.non2xx + r.measured.errors, 0);
    const run = purged.body && purged.body.run;
    if (purged.status !== 200 || !run || run.deletedByAge !== PURGE_ROWS) {
      throw new Error(`the purge answered ${purged.status} ${JSON.stringify(purged.body)}`);
    }
    const p99Before = before.measured.latencyMs.p99;
    const p99During = during.measured.latencyMs.p99;
    const ratio = p99Before && p99During !== null ? p99During / p99Before : null;
    const covered = purgeEnd === null || purgeEnd >= loadEnd;
    const result = {
      auditCostPostgres,
      rows: PURGE_ROWS,
      rate,
      capacityRps: capacity.measured.rps,
      before: before.measured.latencyMs,
      during: during.measured.latencyMs,
      p99Ratio: ratio,
      target: PURGE_P99_TARGET,
      purgeSeconds: ((purgeEnd ?? Date.now()) - purgeStart) / 1000,
      purgeCoveredTheRun: covered,
      run,
      errors,
      result:
        errors > 0
          ? 'ERROR'
          : ratio !== null && ratio <= PURGE_P99_TARGET && covered
            ? 'PASS'
            : 'MISS',
    };
    log(
      `  p99 ${fmt(p99Before, 2)} ms before, ${fmt(p99During, 2)} ms while ${PURGE_ROWS} rows were ` +
        `purged (purge took ${fmt(result.purgeSeconds, 1)} s` +
        `${covered ? '' : ', ending before the run did'}): ratio ${fmt(ratio, 2)} ` +
        `(target <= ${PURGE_P99_TARGET}) -> ${result.result}`,
    );
    return result;
  } finally {
    if (db) await db.end().catch(() => undefined);
    if (warden) await stopChild(warden.child);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

module.exports = { purgeBench };
