// @ts-check
'use strict';
// Warden under test: started from dist/ with a clean environment and a fresh data directory.
// Its settings (warden-settings.js), restrictions (restrictions.js), credentials
// (warden-credentials.js) and metrics (warden-metrics.js) are apart.

const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, WARDEN_NODE_ARGS } = require('./config');
const { run, tmpPath, freePort, spawnChild, waitForStatus } = require('./children');

/**
 * @typedef {import('./children').Server & { basic: string }} Warden a Warden process, with the
 *   admin's Basic credentials
 */

/**
 * Starts Warden from `root`/dist (another checkout for the peer, bench/peer-warden.js) on a free
 * port, with only the environment set here (nothing from the caller's shell may change its
 * config), and waits until it is live.
 *
 * @param {object} [options]
 * @param {string} [options.name] names its data directory and log
 * @param {string} [options.databaseUrl] SQLite in its data directory unless given
 * @param {(base: string) => Record<string, string>} [options.extraEnv] more environment, given
 *   its base URL (http://127.0.0.1:port)
 * @param {string} [options.root]
 * @returns {Promise<Warden>}
 */
async function startWarden({ name = 'warden', databaseUrl, extraEnv, root = ROOT } = {}) {
  const dataDir = tmpPath(`${name}-data`);
  fs.mkdirSync(dataDir);
  const port = await freePort();
  const password = randomBytes(24).toString('base64url');
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      /^(WARDEN_|CMJ_|CONNECT_|UPSTREAM_)/.test(key) ||
      [
        'PORT',
        'HOST',
        'DATABASE_URL',
        'REDIS_URL',
        'LOG_LEVEL',
        'NODE_ENV',
        'NODE_OPTIONS',
      ].includes(key)
    )
      continue;
    env[key] = value;
  }
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    WARDEN_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl || `sqlite:${path.join(dataDir, 'warden.sqlite')}`,
    WARDEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    WARDEN_ADMIN_USERNAME: 'admin',
    WARDEN_ADMIN_PASSWORD: password,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  });
  if (extraEnv) Object.assign(env, extraEnv(`http://127.0.0.1:${port}`));
  const logFile = tmpPath(`${name}.log`);
  const child = spawnChild(
    name,
    run.plan.serverCpu,
    [...WARDEN_NODE_ARGS, path.join(root, 'dist', 'main.js')],
    { env, logFile, cwd: root },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/health/live`, 200, child, logFile);
  return {
    child,
    base,
    logFile,
    basic: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
  };
}

module.exports = { startWarden };
