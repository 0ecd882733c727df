// @ts-check
'use strict';
// The benchmark's fixed figures and the BENCH_* environment variables (bench/README.md).

const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const BENCH_DIR = path.join(__dirname, '..');
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const WARMUP_SECONDS = 2;
const WHOAMI_PATH = '/system/whoami';
const DECISION_PATH = '/authz/decision';
// The bare server's decision route that also sends every header Warden's decision answer carries.
const DECISION_WITH_HEADERS_PATH = '/authz/decision-with-headers';
// The original request the decision endpoint is asked about, the way nginx auth_request sends it.
const ORIGINAL_REQUEST = { method: 'GET', uri: '/rest/api/2/issue/BENCH-1' };
/** @type {Record<string, string>} */
const ORIGINAL_HEADERS = {
  'x-original-method': ORIGINAL_REQUEST.method,
  'x-original-uri': ORIGINAL_REQUEST.uri,
};
// The Connect part: a route authenticated with Atlassian Connect JWTs, on Warden, on the bare
// server and on the atlassian-connect-express peer (BENCH_CONNECT=0 leaves it out).
const CONNECT_PATH = '/connect/whoami';
const CONNECT_ENABLED = process.env.BENCH_CONNECT !== '0';
// The Connect tenant and app: Warden's app key, and the made-up host product that installs it
// (its base URL is never contacted). Request tokens live 180 s as the host's do (longer only
// when a run would outlast that: see connectTokenTtl) and are minted just before their run.
const CONNECT_APP_KEY = 'warden';
const CONNECT_TENANT_BASE_URL = 'https://warden-bench.atlassian.net';
const CONNECT_TOKEN_TTL_SECONDS = 180;
// Audit rows may cost at most this share of request CPU, measured with the audit on and off in
// the same run (docs/architecture.md#performance-targets).
const AUDIT_COST_TARGET = 0.1;
// Access-token lifetime set for the benchmark (only ever raised), so that the fresh tokens for
// every round can be minted once, up front.
const ACCESS_TTL_SECONDS = 3600;
// Slack per load run on top of warm-up + duration (process start, autocannon's last tick…),
// used to estimate when a round ends; and the margin a token must still have when its run ends.
const RUN_OVERHEAD_SECONDS = 5;
const EXPIRY_MARGIN_SECONDS = 120;
// Fresh tokens are sized for the expected rate times this: the short calibration run comes out
// low (a measured round runs some 30 % faster), and there is noise.
const TOKEN_HEADROOM = 1.5;
// Connect tokens cost next to nothing to mint (here, tens of thousands per second) and the ACE
// peer's short calibration comes out at about half its warm rate: a larger headroom for them.
const CONNECT_TOKEN_HEADROOM = 3;
// Per-credential rate-limit budget set for the benchmark (settings.rateLimit, left enabled so its
// cost stays on the measured path): out of reach of any run, so that no request is refused.
const RATE_LIMIT = { requests: 1_000_000, windowSeconds: 1 };
// Sessions (logins) the minting chains share. Few: logins may have a budget of their own.
const MINT_SESSIONS = 4;

/**
 * An integer environment variable, `fallback` when unset or empty; ends the process (exit 2)
 * when it is not an integer of at least `min`.
 *
 * @param {string} name
 * @param {number} fallback
 * @param {number} min
 */
function intEnv(name, fallback, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`${name} must be an integer >= ${min} (got "${raw}")\n`);
    process.exit(2);
  }
  return value;
}

// The purge benchmark (PostgreSQL): rows seeded past their retention, the share of Warden's
// measured capacity the fixed-rate load asks for, and the bound on p99 during the purge.
const PURGE_ROWS = intEnv('BENCH_PURGE_ROWS', 1_000_000, 1000);
const PURGE_ENABLED = process.env.BENCH_PURGE !== '0';
const PURGE_LOAD_SHARE = 0.5;
const PURGE_P99_TARGET = 2;
const POSTGRES_URL =
  process.env.BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

// BENCH_SOAK_MINUTES > 0: the memory soak (bench/soak.js) instead of the throughput rounds, with
// a pool of BENCH_SOAK_TOKENS access tokens (more than the verified-token cache holds).
const SOAK = {
  minutes: intEnv('BENCH_SOAK_MINUTES', 0, 0),
  tokens: intEnv('BENCH_SOAK_TOKENS', 120_000, 100),
  connections: intEnv('BENCH_SOAK_CONNECTIONS', 32, 1),
};

const config = {
  duration: intEnv('BENCH_DURATION', 10, 1),
  rounds: intEnv('BENCH_ROUNDS', 3, 1),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  pipelining: 1,
  warmupSeconds: WARMUP_SECONDS,
  // Upper bound on fresh tokens minted for one measured `access-token-new` run.
  maxTokens: intEnv('BENCH_MAX_TOKENS', 100000, 100),
  // Parallel refresh chains (one login each, one request in flight each) used to mint them.
  mintChains: intEnv('BENCH_MINT_CHAINS', 16, 1),
  // The audit's cost under load: this many pairs of runs with audit on and off, back to back.
  auditPairs: intEnv('BENCH_AUDIT_PAIRS', 10, 0),
  auditSeconds: intEnv('BENCH_AUDIT_SECONDS', 5, 1),
};

/** BENCH_WARDEN_NODE_ARGS (e.g. --cpu-prof): node options for Warden, for looking inside a run. */
const WARDEN_NODE_ARGS = (process.env.BENCH_WARDEN_NODE_ARGS || '').split(' ').filter(Boolean);

/** BENCH_SCENARIOS: the scenario names asked for, none for all of them. */
const ONLY = (process.env.BENCH_SCENARIOS || '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

/** Lifetime of the Connect request tokens: the host's 180 s, or enough for a longer run. */
function connectTokenTtl() {
  return Math.max(
    CONNECT_TOKEN_TTL_SECONDS,
    WARMUP_SECONDS + config.duration + RUN_OVERHEAD_SECONDS + 60,
  );
}

module.exports = {
  ROOT,
  BENCH_DIR,
  RESULTS_DIR,
  WARMUP_SECONDS,
  WHOAMI_PATH,
  DECISION_PATH,
  DECISION_WITH_HEADERS_PATH,
  ORIGINAL_REQUEST,
  ORIGINAL_HEADERS,
  CONNECT_PATH,
  CONNECT_ENABLED,
  CONNECT_APP_KEY,
  CONNECT_TENANT_BASE_URL,
  CONNECT_TOKEN_TTL_SECONDS,
  AUDIT_COST_TARGET,
  ACCESS_TTL_SECONDS,
  RUN_OVERHEAD_SECONDS,
  EXPIRY_MARGIN_SECONDS,
  TOKEN_HEADROOM,
  CONNECT_TOKEN_HEADROOM,
  RATE_LIMIT,
  MINT_SESSIONS,
  PURGE_ROWS,
  PURGE_ENABLED,
  PURGE_LOAD_SHARE,
  PURGE_P99_TARGET,
  POSTGRES_URL,
  SOAK,
  config,
  WARDEN_NODE_ARGS,
  ONLY,
  intEnv,
  connectTokenTtl,
};
