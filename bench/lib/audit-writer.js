// @ts-check
'use strict';
// Warden's own audit writer (from dist/) on a database of its own, migrated with Warden's own
// migrations: what bench/audit-cost.js measures and bench/nest-floor.js writes its rows with.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DataSource } = require('typeorm');

/** @type {(p: string) => any} a module of Warden's build */
const dist = (p) => require(path.join(__dirname, '..', '..', 'dist', p));

/**
 * An AuditWriter on `url`: `sqlite:` makes a fresh database in a temporary directory, anything
 * else is a PostgreSQL URL. `close()` destroys the connection and the temporary directory.
 *
 * @param {string} url
 */
async function openAuditWriter(url) {
  const { buildDataSourceOptions } = dist('database/data-source');
  const { runMigrations } = dist('database/migrate');
  const { AuditEntryEntity } = dist('audit/audit-entry.entity');
  const { AuditRepository } = dist('audit/audit.repository');
  const { JobLock } = dist('common/database/job-lock');
  const { AuditWriter } = dist('audit/audit-writer.service');
  const { MetricsService } = dist('metrics/metrics.service');
  /** @type {string | null} */
  let dir = null;
  let database;
  if (url.startsWith('sqlite:')) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-audit-'));
    const sqlitePath = path.join(dir, 'warden.sqlite');
    database = { kind: 'sqlite', url: `sqlite:${sqlitePath}`, sqlitePath };
  } else {
    database = { kind: 'postgres', url };
  }
  const dataSource = await new DataSource(buildDataSourceOptions({ database })).initialize();
  const close = async () => {
    await dataSource.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await runMigrations(dataSource);
  } catch (err) {
    await close();
    throw err;
  }
  const repository = new AuditRepository(
    dataSource,
    dataSource.getRepository(AuditEntryEntity),
    new JobLock(dataSource),
  );
  const metrics = new MetricsService();
  const writer = new AuditWriter(repository, { now: () => Date.now() }, metrics);
  return { kind: database.kind, writer, metrics, close };
}

module.exports = { openAuditWriter };
