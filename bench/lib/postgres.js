// @ts-check
'use strict';
// PostgreSQL databases a run creates for itself (the ACE peer's store), dropped when it ends.

const { randomBytes } = require('node:crypto');
const { POSTGRES_URL } = require('./config');
const { log, onCleanup } = require('./children');

/** @type {Set<string>} */
const createdDatabases = new Set();
let registered = false;

/**
 * Creates `<prefix>_<random>` on BENCH_POSTGRES_URL's server; answers its URL.
 *
 * @param {string} prefix
 */
async function createDatabase(prefix) {
  const { Client } = require('pg');
  if (!registered) {
    onCleanup(dropCreatedDatabases);
    registered = true;
  }
  const admin = new Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    const database = `${prefix}_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${database}`);
    createdDatabases.add(database);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${database}`;
    return url.toString();
  } finally {
    await admin.end();
  }
}

async function dropCreatedDatabases() {
  if (createdDatabases.size === 0) return;
  const { Client } = require('pg');
  const admin = new Client({ connectionString: POSTGRES_URL });
  try {
    await admin.connect();
    for (const database of createdDatabases)
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    createdDatabases.clear();
  } catch (err) {
    log(
      `Could not drop ${[...createdDatabases].join(', ')}: ${/** @type {Error} */ (err).message}`,
    );
  } finally {
    await admin.end().catch(() => undefined);
  }
}

module.exports = { createDatabase, dropCreatedDatabases };
