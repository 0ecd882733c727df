'use strict';
// Warden's throughput benchmark: GET /system/whoami with an access token or a personal API
// token, the decision endpoint (GET /authz/decision, an nginx-style question about an original
// request) with an access token, and a Connect-authenticated route (GET /connect/whoami) with a
// fresh Atlassian Connect JWT per request, against a bare Fastify server answering the same
// routes with the same bodies; Warden with all its restrictions configured. The Connect route is
// also measured on atlassian-connect-express (bench/ace-peer.js) in the same run, the protected
// route on Nest's documented passport-jwt set-up (bench/nest-passport-jwt.js), and with
// BENCH_PEER_REF the Warden scenarios on Warden at that git ref too (bench/peer-warden.js). See
// bench/README.md.
//
//   node scripts/ensure-build.js && node bench/run.js      (npm run bench)
//
// Everything runs on 127.0.0.1, in child processes that this script starts and always stops:
// Warden (node dist/main.js, fresh data directory), the bare Fastify server, the ACE peer, and
// the load generator (bench/load.js, autocannon). With taskset, the server under test gets one
// core and the load generator another.

const { spawn, spawnSync, execSync } = require('node:child_process');
const { generateKeyPairSync, randomBytes, randomUUID } = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { runSoak } = require('./soak');
const {
  peerRef,
  peerName,
  isPeer,
  currentOf,
  withPeerScenarios,
  preparePeer,
  removePeerSync,
  startPeer,
  comparePeers,
  printPeerComparison,
} = require('./peer-warden');

const ROOT = path.join(__dirname, '..');
const RESULTS_DIR = path.join(__dirname, 'results');
const WARMUP_SECONDS = 2;
const WHOAMI_PATH = '/system/whoami';
const DECISION_PATH = '/authz/decision';
// The original request the decision endpoint is asked about, the way nginx auth_request sends it.
const ORIGINAL_REQUEST = { method: 'GET', uri: '/rest/api/2/issue/BENCH-1' };
const ORIGINAL_HEADERS = {
  'x-original-method': ORIGINAL_REQUEST.method,
  'x-original-uri': ORIGINAL_REQUEST.uri,
};
// The Connect part: a route authenticated with Atlassian Connect JWTs, on Warden, on the bare
// server and on the atlassian-connect-express peer (BENCH_CONNECT=0 leaves it out).
const CONNECT_PATH = '/connect/whoami';
const CONNECT_ENABLED = process.env.BENCH_CONNECT !== '0';
// Each round runs these in this order. `credential`: none, one access token sent on every
// request (`seen`, one per scenario), the API token, a never-seen access token per request
// (`fresh`, each scenario and round with its own tokens), or a never-seen Connect JWT per
// request (`connect`, `Authorization: JWT …`, minted here for each run), or one HS256 token
// sent on every request to the passport-jwt Nest route (`nest-jwt`).
// BENCH_PEER_REF: Warden at that git ref (bench/peer-warden.js) runs the Warden scenarios too,
// as `peer:<scenario>`, each right after the current build's.
const PEER_REF = peerRef();
const OWN_SCENARIO_SPECS = {
  bare: { server: 'bare', path: WHOAMI_PATH, credential: 'none' },
  // NestJS on Fastify with nothing of Warden's (bench/bare-nest.js): the framework's own floor.
  'bare-nest': { server: 'nest', path: WHOAMI_PATH, credential: 'none' },
  // The NestJS guide's JWT set-up (bench/nest-passport-jwt.js): AuthGuard('jwt') and a
  // passport-jwt strategy with the HS256 secret as a string, as documented, and as a KeyObject.
  'nest-passport-jwt': { server: 'nestJwt', path: WHOAMI_PATH, credential: 'nest-jwt' },
  'nest-passport-jwt-keyobject': {
    server: 'nestJwtKeyObject',
    path: WHOAMI_PATH,
    credential: 'nest-jwt',
  },
  'access-token-seen': { server: 'warden', path: WHOAMI_PATH, credential: 'seen' },
  // The same with settings.audit.enabled false for the run: the difference is the audit's cost.
  'access-token-seen-no-audit': {
    server: 'warden',
    path: WHOAMI_PATH,
    credential: 'seen',
    audit: false,
  },
  'api-token-seen': { server: 'warden', path: WHOAMI_PATH, credential: 'api-token' },
  // A token of an external identity provider (externalJwt, publicKey mode), the same every time.
  'external-token-seen': { server: 'warden', path: WHOAMI_PATH, credential: 'external' },
  'access-token-new': { server: 'warden', path: WHOAMI_PATH, credential: 'fresh' },
  'bare-decision': {
    server: 'bare',
    path: DECISION_PATH,
    headers: ORIGINAL_HEADERS,
    credential: 'none',
  },
  'decision-seen': {
    server: 'warden',
    path: DECISION_PATH,
    headers: ORIGINAL_HEADERS,
    credential: 'seen',
  },
  'decision-new': {
    server: 'warden',
    path: DECISION_PATH,
    headers: ORIGINAL_HEADERS,
    credential: 'fresh',
  },
  ...(CONNECT_ENABLED
    ? {
        'bare-connect': { server: 'bare', path: CONNECT_PATH, credential: 'none' },
        'connect-new': { server: 'warden', path: CONNECT_PATH, credential: 'connect' },
        // atlassian-connect-express's authenticate() on express (bench/ace-peer.js).
        'ace-connect-new': { server: 'ace', path: CONNECT_PATH, credential: 'connect' },
      }
    : {}),
};
const SCENARIO_SPECS = withPeerScenarios(OWN_SCENARIO_SPECS, PEER_REF);
const TARGETS = {
  'access-token-seen': 0.5,
  'api-token-seen': 0.5,
  'external-token-seen': 0.5,
  'access-token-new': 0.25,
  'decision-seen': 0.5,
  'decision-new': 0.25,
  // Five times what atlassian-connect-express's authenticate() reaches (about 0.037 of bare).
  'connect-new': 0.185,
};
// The bare-Fastify run each Warden scenario is compared with (same route, same body).
const BASELINES = {
  'bare-nest': 'bare',
  'nest-passport-jwt': 'bare',
  'nest-passport-jwt-keyobject': 'bare',
  'access-token-seen': 'bare',
  'access-token-seen-no-audit': 'bare',
  'api-token-seen': 'bare',
  'external-token-seen': 'bare',
  'access-token-new': 'bare',
  'decision-seen': 'bare-decision',
  'decision-new': 'bare-decision',
  'connect-new': 'bare-connect',
  'ace-connect-new': 'bare-connect',
};
// A peer scenario is compared with the same baseline as the current build's.
for (const scenario of Object.keys(SCENARIO_SPECS))
  if (isPeer(scenario)) BASELINES[scenario] = BASELINES[currentOf(scenario)];
// Warden's Connect route against atlassian-connect-express's, same run, same tokens' shape.
const CONNECT_VS_ACE = { scenario: 'connect-new', peer: 'ace-connect-new', target: 5 };
// BENCH_SCENARIOS narrows a run to the scenarios named (with their baselines and peers: the ACE
// peer, and with BENCH_PEER_REF each one's `peer:` twin), for working on one path; the full run,
// and its targets, take them all.
const ONLY = (process.env.BENCH_SCENARIOS || '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const named = (s) => ONLY.includes(s) || ONLY.includes(currentOf(s)) || ONLY.includes(peerName(s));
const SCENARIOS = Object.keys(SCENARIO_SPECS).filter(
  (s) =>
    ONLY.length === 0 ||
    named(s) ||
    ONLY.some(
      (o) =>
        BASELINES[o] === s ||
        BASELINES[currentOf(o)] === s ||
        (currentOf(o) === 'connect-new' && s === 'ace-connect-new'),
    ),
);
{
  const unknown = ONLY.filter((o) => !SCENARIO_SPECS[o]);
  if (unknown.length > 0) {
    process.stderr.write(
      `BENCH_SCENARIOS: no scenario ${unknown.join(', ')} (known: ${Object.keys(SCENARIO_SPECS).join(', ')})\n`,
    );
    process.exit(2);
  }
}
const FRESH_SCENARIOS = SCENARIOS.filter((s) => SCENARIO_SPECS[s].credential === 'fresh');
const CONNECT_SCENARIOS = SCENARIOS.filter((s) => SCENARIO_SPECS[s].credential === 'connect');
// Scenarios that send a never-seen token per request, from a file of tokens each used once.
const usesTokenFile = (scenario) =>
  ['fresh', 'connect'].includes(SCENARIO_SPECS[scenario].credential);
// The Connect tenant and app: Warden's app key, and the made-up host product that installs it
// (its base URL is never contacted). Request tokens live 180 s as the host's do (longer only
// when a run would outlast that: see connectTokenTtl) and are minted just before their run.
const CONNECT_APP_KEY = 'warden';
const CONNECT_TENANT_BASE_URL = 'https://warden-bench.atlassian.net';
const CONNECT_TOKEN_TTL_SECONDS = 180;
// Audit rows may cost at most this share of request CPU (docs/architecture.md#performance-targets,
// issue: "bench with audit on and off in the same run").
const AUDIT_COST_TARGET = 0.1;
// The purge benchmark (PostgreSQL): rows seeded past their retention, the share of Warden's
// measured capacity the fixed-rate load asks for, and the bound on p99 during the purge.
const PURGE_ROWS = intEnv('BENCH_PURGE_ROWS', 1_000_000, 1000);
const PURGE_LOAD_SHARE = 0.5;
const PURGE_P99_TARGET = 2;
const POSTGRES_URL =
  process.env.BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
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

// All restrictions configured, for every Warden scenario: a 50-entry address allow-list, 20
// group rules, 20 path patterns. None of it may match (or refuse) what the benchmark sends, so
// every request is judged in full: its address is looked up in the allow-list, its path walks
// every bypass and public pattern without a match, and it is authenticated.
//  - ip.allow: 48 ranges and addresses, IPv4 and IPv6, none holding 127.0.0.1 or ::1, then the
//    loopback ranges last (the benchmark client is 127.0.0.1: its first look-up walks all 50).
//  - groups: 10 apiAccess + 10 readOnly group names (none need exist; the admin, a member of
//    warden-admins, is exempt from group rules, so they are never refused for it).
//  - bypass.paths, publicApis.paths: 10 patterns each (GET or any method, so each pattern's
//    regular expression is tried), none matching a path the benchmark uses (checked below and,
//    through Warden's answers, at start).
const IRRELEVANT_ADDRESSES = [
  '10.0.0.0/8',
  '2001:db8::/32',
  '172.16.0.0/12',
  'fd00::/8',
  '192.168.0.0/16',
  'fe80::/10',
  '192.0.2.0/24',
  '2001:db8:1::/48',
  '198.51.100.0/24',
  '2001:db8:2::/48',
  '203.0.113.0/24',
  '2001:db8:3:4::/64',
  '100.64.0.0/10',
  '2001:db8::1',
  '198.18.0.0/15',
  '2001:db8::2',
  '192.0.2.10',
  '2001:db8:abcd::/48',
  '192.0.2.11',
  'fc00:1234::/32',
  '203.0.113.7',
  '2001:db8:ffff::1',
  '203.0.113.128/25',
  '2001:db8:5::/48',
  ...Array.from({ length: 12 }, (_, i) => [
    `10.${i + 20}.${i * 7}.0/24`,
    `2001:db8:${(0x100 + i).toString(16)}::/48`,
  ]).flat(),
];
const RESTRICTIONS = {
  ip: { allow: [...IRRELEVANT_ADDRESSES, '::1/128', '127.0.0.0/8'] },
  groups: {
    apiAccess: [
      'jira-api-users',
      'confluence-api-users',
      'ci-robots',
      'integration-bots',
      'reporting',
      'partners-api',
      'mobile-apps',
      'data-export',
      'sre-automation',
      'qa-automation',
    ],
    readOnly: [
      'auditors',
      'contractors',
      'interns',
      'read-only-users',
      'viewers',
      'external-reviewers',
      'support-tier1',
      'finance-readers',
      'legal-readers',
      'guest-accounts',
    ],
  },
  bypass: {
    paths: [
      'GET /status/**',
      '/static/*/assets/**',
      '/favicon.ico',
      '/robots.txt',
      'GET /s/*/_/download/**',
      'GET /images/**',
      '/ping',
      'GET /rest/api/2/serverInfo',
      '/healthcheck/**',
      'GET /system/health',
    ],
  },
  publicApis: {
    paths: [
      'GET /rest/api/*/serverInfo',
      'GET /rest/api/2/project/*/avatar/**',
      'GET /rest/api/2/issue/*/attachments/public',
      '/public/**',
      'GET /docs/**',
      '/rest/plugins/1.0/public/**',
      'GET /wiki/rest/api/space/*/public',
      'GET /openapi.json',
      '/rest/gadget/1.0/login',
      'GET /rest/api/latest/application-properties/public',
    ],
  },
};
// Answered without credentials once the settings are in force: proof they are.
const BYPASS_PROBE = '/status/bench';
const PUBLIC_PROBE = '/public/bench';

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

// ---------------------------------------------------------------------------------------------
// Child processes and clean-up

const children = new Set();
let tmpDir = null;
let cleaningUp = null;
let interrupted = false;

function log(line) {
  process.stdout.write(`${line}\n`);
}

function killAllSync() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
}

function removeTmpSync() {
  if (tmpDir) {
    try {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    tmpDir = null;
  }
}

/** Stops every child (SIGTERM, then SIGKILL after 5 s) and removes the temporary directory. */
function cleanup() {
  if (!cleaningUp) {
    cleaningUp = Promise.all([...children].map((c) => stopChild(c)))
      .then(() => dropCreatedDatabases())
      .then(() => {
        killAllSync();
        removeTmpSync();
        removePeerSync();
      });
  }
  return cleaningUp;
}

process.on('exit', () => {
  killAllSync();
  removeTmpSync();
  removePeerSync();
});
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]) {
  process.on(signal, () => {
    if (cleaningUp) {
      killAllSync();
      process.exit(code);
    }
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the child processes…\n`);
    cleanup().finally(() => process.exit(code));
  });
}
process.on('uncaughtException', (err) => {
  process.stderr.write(`Unexpected error: ${err && err.stack ? err.stack : err}\n`);
  cleanup().finally(() => process.exit(1));
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`Unexpected error: ${err && err.stack ? err.stack : err}\n`);
  cleanup().finally(() => process.exit(1));
});

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      return resolve();
    }
    const timer = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolve();
    });
    try {
      child.kill('SIGTERM');
    } catch {
      clearTimeout(timer);
      children.delete(child);
      resolve();
    }
  });
}

/** The CPUs this process may use, from `taskset -cp`; null when taskset is missing. */
function pinningPlan() {
  const probe = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return { pinned: false, note: 'taskset not available: processes run unpinned' };
  }
  const list = (probe.stdout.split(':').pop() || '').trim();
  const cpus = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (Number.isInteger(a)) for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) cpus.push(c);
  }
  if (cpus.length < 2) {
    return {
      pinned: false,
      note: `only ${cpus.length} CPU allowed (${list}): processes run unpinned`,
    };
  }
  return {
    pinned: true,
    serverCpu: cpus[0],
    loadCpu: cpus[1],
    note: `server under test on CPU ${cpus[0]}, load generator on CPU ${cpus[1]} (taskset)`,
  };
}

function spawnChild(name, cpu, args, { env, logFile, stdin = 'ignore', stdout, cwd = ROOT } = {}) {
  const logFd = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const command = plan.pinned ? 'taskset' : process.execPath;
  const argv = plan.pinned ? ['-c', String(cpu), process.execPath, ...args] : args;
  const child = spawn(command, argv, {
    cwd,
    env: env || process.env,
    stdio: [stdin, stdout || logFd, logFd],
  });
  if (typeof logFd === 'number') fs.closeSync(logFd);
  child.benchName = name;
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForStatus(url, status, child, logFile, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${child.benchName} exited (${child.exitCode ?? child.signalCode}) before ${url} answered.\n` +
          `Its last output:\n${tail(logFile)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === status) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause ? err.cause.code || err.cause.message : err.message;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs / 1000} s (last: ${last})`);
}

async function getJson(url, authorization) {
  const res = await fetch(url, {
    headers: { authorization, accept: 'application/json' },
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 500)}`);
  }
  return JSON.parse(text);
}

/** One request to Warden; answers status, headers, text and (when it parses) JSON. */
async function call(method, url, { authorization, headers = {}, body } = {}) {
  const res = await fetch(url, {
    method,
    headers: {
      accept: 'application/json',
      ...(authorization ? { authorization } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

function tokenExpiry(token) {
  return claimsOf(token).exp * 1000;
}

// ---------------------------------------------------------------------------------------------
// Warden, the bare server, tokens

let plan;

/**
 * `extraEnv(base)`: more environment for this Warden, given its base URL (http://127.0.0.1:port);
 * `root`: the checkout whose dist/ is started (another one for the peer, bench/peer-warden.js).
 */
async function startWarden({ name = 'warden', databaseUrl, extraEnv, root = ROOT } = {}) {
  const dataDir = path.join(tmpDir, `${name}-data`);
  fs.mkdirSync(dataDir);
  const port = await freePort();
  const password = randomBytes(24).toString('base64url');
  // A clean environment for Warden: nothing from the caller's shell may change its config.
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
  const logFile = path.join(tmpDir, `${name}.log`);
  // BENCH_WARDEN_NODE_ARGS (e.g. --cpu-prof) goes to Warden's node, for looking inside a run.
  const nodeArgs = (process.env.BENCH_WARDEN_NODE_ARGS || '').split(' ').filter(Boolean);
  const child = spawnChild(
    name,
    plan.serverCpu,
    [...nodeArgs, path.join(root, 'dist', 'main.js')],
    {
      env,
      logFile,
      cwd: root,
    },
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

async function startBare(whoamiBody, decisionBody, connectBody, kind = 'fastify') {
  const port = await freePort();
  const logFile = path.join(tmpDir, `bare-${kind}.log`);
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  delete env.NODE_OPTIONS;
  env.BARE_WHOAMI = whoamiBody;
  env.BARE_DECISION = decisionBody;
  if (connectBody) env.BARE_CONNECT = connectBody;
  env.BARE_EXIT_ON_STDIN_END = '1';
  const child = spawnChild(
    `bare-${kind}`,
    plan.serverCpu,
    [path.join(__dirname, `bare-${kind}.js`)],
    {
      env,
      logFile,
      stdin: 'pipe',
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}${WHOAMI_PATH}`, 200, child, logFile);
  // Same bytes as Warden, route by route.
  for (const [route, expected, headers] of [
    [WHOAMI_PATH, whoamiBody, {}],
    [DECISION_PATH, decisionBody, ORIGINAL_HEADERS],
    ...(connectBody ? [[CONNECT_PATH, connectBody, {}]] : []),
  ]) {
    const res = await call('GET', `${base}${route}`, { headers });
    if (res.status !== 200 || res.text !== expected) {
      throw new Error(
        `bare ${kind} GET ${route} answered ${res.status} ${res.text}, not Warden's ${expected}`,
      );
    }
  }
  return { child, base, logFile };
}

/**
 * The NestJS guide's JWT route (bench/nest-passport-jwt.js), the HS256 secret given as a string
 * or as a KeyObject (`keyKind`), answering Warden's whoami body. Answers the server and the one
 * token sent on every request (signed with jsonwebtoken, as @nestjs/jwt's JwtService does, with
 * the guide's claims), after checking that the route refuses no token and a bad signature.
 */
async function startNestJwt(whoamiBody, keyKind) {
  const jwt = require('jsonwebtoken');
  const port = await freePort();
  const name = `nest-passport-jwt-${keyKind}`;
  const logFile = path.join(tmpDir, `${name}.log`);
  const secret = randomBytes(32).toString('base64url');
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  delete env.NODE_OPTIONS;
  Object.assign(env, {
    BARE_WHOAMI: whoamiBody,
    NEST_JWT_SECRET: secret,
    NEST_JWT_KEY: keyKind,
    BARE_EXIT_ON_STDIN_END: '1',
  });
  const child = spawnChild(name, plan.serverCpu, [path.join(__dirname, 'nest-passport-jwt.js')], {
    env,
    logFile,
    stdin: 'pipe',
  });
  const base = `http://127.0.0.1:${port}`;
  // Up once it refuses a request without a token.
  await waitForStatus(`${base}${WHOAMI_PATH}`, 401, child, logFile);
  const sign = (key) =>
    jwt.sign({ sub: randomUUID(), username: 'admin' }, key, {
      algorithm: 'HS256',
      expiresIn: '4h',
    });
  const token = sign(secret);
  const res = await call('GET', `${base}${WHOAMI_PATH}`, { authorization: `Bearer ${token}` });
  if (res.status !== 200 || res.text !== whoamiBody) {
    throw new Error(
      `${name} GET ${WHOAMI_PATH} answered ${res.status} ${res.text.slice(0, 300)}, not Warden's ` +
        `${whoamiBody}\nIts last output:\n${tail(logFile)}`,
    );
  }
  const forged = await call('GET', `${base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${sign(randomBytes(32).toString('base64url'))}`,
  });
  if (forged.status !== 401) {
    throw new Error(`${name} took a token signed with another secret (${forged.status})`);
  }
  return { child, base, logFile, token };
}

/**
 * Settings for minting: refresh-token rotation off (GET /system/reauth then signs one access
 * token and the refresh token can be reused) and access tokens that live ACCESS_TTL_SECONDS, so
 * that the tokens of every round can be minted once; a per-credential rate-limit budget no run
 * can reach (RATE_LIMIT); and every restriction configured (RESTRICTIONS). JSON merge patch with
 * If-Match (arrays are replaced, other fields of each section kept); a "lockout" conflict is
 * repeated with force=true, a lost race (412) read again. Checks that the answer holds it all.
 */
async function configureSettings(warden) {
  checkRestrictions();
  const url = `${warden.base}/admin/settings`;
  for (let attempt = 1; ; attempt++) {
    const read = await call('GET', url, { authorization: warden.basic });
    const etag = read.headers.get('etag');
    if (read.status !== 200 || !etag || !read.json || !read.json.tokens) {
      throw new Error(
        `GET /admin/settings answered ${read.status} (ETag ${etag}): ${read.text.slice(0, 500)}`,
      );
    }
    const current = read.json.tokens;
    const tokens = { rotateRefreshTokens: false };
    const accessTtl = Math.max(current.accessTtlSeconds, ACCESS_TTL_SECONDS);
    if (accessTtl !== current.accessTtlSeconds) tokens.accessTtlSeconds = accessTtl;
    if (current.refreshTtlSeconds < accessTtl) tokens.refreshTtlSeconds = accessTtl;
    const body = { tokens, ...structuredClone(RESTRICTIONS) };
    const limit = read.json.rateLimit;
    const perSecond = (l) => l.requests / l.windowSeconds;
    if (limit && perSecond(limit) < perSecond(RATE_LIMIT)) body.rateLimit = { ...RATE_LIMIT };
    const patch = (force) =>
      call('PATCH', force ? `${url}?force=true` : url, {
        authorization: warden.basic,
        headers: { 'if-match': etag },
        body,
      });
    let res = await patch(false);
    let forced = false;
    if (res.status === 409 && res.json && res.json.code === 'lockout') {
      log(`  PATCH /admin/settings: ${res.json.detail || 'lockout'}; repeating with force=true`);
      forced = true;
      res = await patch(true);
    }
    if (res.status === 412 && attempt < 3) continue; // changed under us: read again
    if (res.status !== 200 || !res.json || !res.json.tokens) {
      throw new Error(`PATCH /admin/settings answered ${res.status}: ${res.text.slice(0, 500)}`);
    }
    const applied = res.json.tokens;
    if (applied.rotateRefreshTokens !== false || applied.accessTtlSeconds < accessTtl) {
      throw new Error(`PATCH /admin/settings did not apply: tokens are ${JSON.stringify(applied)}`);
    }
    for (const [section, fields] of Object.entries(RESTRICTIONS)) {
      for (const [field, value] of Object.entries(fields)) {
        const got = res.json[section] && res.json[section][field];
        if (JSON.stringify(got) !== JSON.stringify(value)) {
          throw new Error(
            `PATCH /admin/settings did not apply ${section}.${field}: got ${JSON.stringify(got)}`,
          );
        }
      }
    }
    if (!res.json.rateLimit || !res.json.rateLimit.enabled) {
      throw new Error(`the rate limit is off: ${JSON.stringify(res.json.rateLimit)}`);
    }
    return {
      before: current,
      after: applied,
      rateLimitBefore: limit || null,
      rateLimitAfter: res.json.rateLimit || null,
      patch: body,
      forced,
      documentBefore: read.json,
      documentAfter: res.json,
      etag: res.headers.get('etag'),
    };
  }
}

/** RESTRICTIONS as described: 50 addresses of which only the loopback ones hold the client, 20+20. */
function checkRestrictions() {
  const ipaddr = require('ipaddr.js');
  const { allow } = RESTRICTIONS.ip;
  const counts = [
    allow.length,
    RESTRICTIONS.groups.apiAccess.length + RESTRICTIONS.groups.readOnly.length,
    RESTRICTIONS.bypass.paths.length + RESTRICTIONS.publicApis.paths.length,
  ];
  if (counts.join() !== '50,20,20' || new Set(allow).size !== allow.length) {
    throw new Error(`RESTRICTIONS: expected 50 addresses, 20 groups, 20 paths; got ${counts}`);
  }
  const clients = ['127.0.0.1', '::1'].map((a) => ipaddr.parse(a));
  for (const entry of IRRELEVANT_ADDRESSES) {
    const [net, bits] = entry.includes('/')
      ? ipaddr.parseCIDR(entry)
      : [ipaddr.parse(entry), entry.includes(':') ? 128 : 32];
    for (const client of clients) {
      if (client.kind() === net.kind() && client.match(net, bits))
        throw new Error(`RESTRICTIONS: ${entry} holds ${client}`);
    }
  }
}

/**
 * Proof that the restrictions are in force and judge the benchmark's requests in full: the
 * decision endpoint lets a bypass and a public path through without credentials (so the lists
 * are live), and names the caller for the benchmark's original request (matched by no pattern,
 * address allowed, group rules passed). Answers Warden's decision body for the bare server.
 */
async function checkDecision(warden, token) {
  const ask = (uri, authorization) =>
    call('GET', `${warden.base}${DECISION_PATH}`, {
      authorization,
      headers: { 'x-original-method': ORIGINAL_REQUEST.method, 'x-original-uri': uri },
    });
  for (const [uri, reason] of [
    [BYPASS_PROBE, 'bypass'],
    [PUBLIC_PROBE, 'public'],
  ]) {
    const res = await ask(uri);
    if (res.status !== 200 || !res.json || res.json.reason !== reason) {
      throw new Error(
        `GET ${DECISION_PATH} for ${ORIGINAL_REQUEST.method} ${uri} without credentials ` +
          `answered ${res.status} ${res.text.slice(0, 300)} (expected 200, reason "${reason}")`,
      );
    }
  }
  const res = await ask(ORIGINAL_REQUEST.uri, `Bearer ${token}`);
  const user = res.headers.get('x-warden-user');
  if (
    res.status !== 200 ||
    !res.json ||
    res.json.decision !== 'allow' ||
    res.json.authMethod !== 'access' ||
    res.json.user !== 'admin' ||
    user !== 'admin'
  ) {
    throw new Error(
      `GET ${DECISION_PATH} for ${ORIGINAL_REQUEST.method} ${ORIGINAL_REQUEST.uri} answered ` +
        `${res.status} (X-Warden-User ${user}): ${res.text.slice(0, 500)}`,
    );
  }
  const wardenHeaders = {};
  for (const [name, value] of res.headers)
    if (name.startsWith('x-warden-')) wardenHeaders[name] = value;
  return { body: res.text, contentType: res.headers.get('content-type'), wardenHeaders };
}

/** Creates a personal API token for the admin (POST /tokens) and checks it on /system/whoami. */
async function createApiToken(warden) {
  const res = await call('POST', `${warden.base}/tokens`, {
    authorization: warden.basic,
    body: { name: 'bench', scopes: ['read', 'write'] },
  });
  if (res.status !== 201 || !res.json || typeof res.json.token !== 'string') {
    throw new Error(`POST /tokens answered ${res.status}: ${res.text.slice(0, 500)}`);
  }
  const { token, prefix, scopes, expiresAt } = res.json;
  if (!token.startsWith('wdn_')) throw new Error(`POST /tokens answered a token "${prefix}…"`);
  const check = await call('GET', `${warden.base}/system/whoami`, {
    authorization: `Bearer ${token}`,
  });
  if (check.status !== 200 || !check.json || check.json.authMethod !== 'api-token') {
    throw new Error(
      `GET /system/whoami with the API token answered ${check.status}: ${check.text.slice(0, 500)}`,
    );
  }
  return { token, info: { prefix, scopes, expiresAt }, whoamiBody: check.text };
}

/** PATCH /admin/settings with If-Match (read again on a lost race); answers the new document. */
async function patchSettings(warden, body) {
  const url = `${warden.base}/admin/settings`;
  for (let attempt = 1; ; attempt++) {
    const read = await call('GET', url, { authorization: warden.basic });
    const res = await call('PATCH', `${url}?force=true`, {
      authorization: warden.basic,
      headers: { 'if-match': read.headers.get('etag') },
      body,
    });
    if (res.status === 412 && attempt < 3) continue;
    if (res.status !== 200) {
      throw new Error(`PATCH /admin/settings answered ${res.status}: ${res.text.slice(0, 500)}`);
    }
    return res.json;
  }
}

async function setAudit(warden, enabled) {
  const doc = await patchSettings(warden, { audit: { enabled } });
  if (doc.audit.enabled !== enabled) throw new Error(`audit.enabled is still ${!enabled}`);
}

/** Warden's own counters from GET /metrics (Prometheus text), by metric name and labels. */
async function metricValue(warden, name) {
  const res = await call('GET', `${warden.base}/metrics`);
  const line = res.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : null;
}

/**
 * Warden's garbage collection so far (seconds, by kind: minor, major, incremental, weakcb) and its
 * heap in use (bytes), from the default Node.js metrics.
 */
async function gcSnapshot(warden) {
  const res = await call('GET', `${warden.base}/metrics`);
  const snapshot = { seconds: {}, heapUsed: null };
  for (const line of res.text.split('\n')) {
    const gc = /^warden_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)/.exec(line);
    if (gc) snapshot.seconds[gc[1]] = Number(gc[2]);
    else if (line.startsWith('warden_nodejs_heap_size_used_bytes '))
      snapshot.heapUsed = Number(line.split(' ')[1]);
  }
  return snapshot;
}

/** `minor+major+incremental` milliseconds, e.g. `310+95+12`. */
function describeGc(ms) {
  return ['minor', 'major', 'incremental'].map((kind) => fmt(ms[kind] ?? 0)).join('+');
}

/** Milliseconds of collection between two snapshots, by kind. */
function gcSpent(before, after) {
  const spent = {};
  for (const [kind, seconds] of Object.entries(after.seconds))
    spent[kind] = (seconds - (before.seconds[kind] ?? 0)) * 1000;
  return spent;
}

/**
 * Configures an external identity provider in publicKey mode (a key pair made here) and signs
 * one token with it, valid for four hours; checks that Warden takes it as `external`.
 */
async function configureExternal(warden) {
  const { generateKeyPairSync, sign } = require('node:crypto');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issuer = 'https://idp.bench.invalid/';
  await patchSettings(warden, {
    externalJwt: {
      enabled: true,
      mode: 'publicKey',
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
      issuer,
      audience: 'warden-bench',
      algorithms: ['RS256'],
      usernameClaim: 'sub',
      usernameRegex: null,
      groupsClaim: 'groups',
    },
  });
  const now = Math.floor(Date.now() / 1000);
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({
    iss: issuer,
    aud: 'warden-bench',
    sub: 'bench-external',
    // In the first groups.apiAccess group: the group rules are checked for it (not exempt).
    groups: [RESTRICTIONS.groups.apiAccess[0]],
    iat: now,
    exp: now + 4 * 3600,
  })}`;
  const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  const check = await call('GET', `${warden.base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${token}`,
  });
  if (check.status !== 200 || !check.json || check.json.authMethod !== 'external') {
    throw new Error(
      `GET ${WHOAMI_PATH} with the external token answered ${check.status}: ${check.text.slice(0, 500)}`,
    );
  }
  return { token, whoamiBody: check.text };
}

// ---------------------------------------------------------------------------------------------
// Atlassian Connect: the install keys server, the signed install, the ACE peer

/**
 * The public keys of signed installs, as Atlassian publishes them: GET /{kid} answers the PEM
 * text of an RSA public key (one 2048-bit key pair made here). Served by this process on
 * 127.0.0.1; Warden's CONNECT_KEYS_URL points at it. Counts the requests it answered.
 */
async function startKeysServer() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `warden-bench-${randomBytes(8).toString('hex')}`;
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const keys = { privateKey, kid, url: null, requests: 0, server: null };
  keys.server = http.createServer((req, res) => {
    keys.requests++;
    if (req.method === 'GET' && req.url === `/${kid}`) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(pem);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such key\n');
    }
  });
  await new Promise((resolve, reject) => {
    keys.server.once('error', reject);
    keys.server.listen(0, '127.0.0.1', resolve);
  });
  keys.url = `http://127.0.0.1:${keys.server.address().port}`;
  return keys;
}

/** Lifetime of the Connect request tokens: the host's 180 s, or enough for a longer run. */
function connectTokenTtl() {
  return Math.max(
    CONNECT_TOKEN_TTL_SECONDS,
    WARMUP_SECONDS + config.duration + RUN_OVERHEAD_SECONDS + 60,
  );
}

/**
 * Installs a made-up Jira tenant in Warden the way the host does (POST /connect/installed with
 * an RS256 install token whose key Warden fetches from the keys server), then checks that
 * GET /connect/whoami takes a fresh request token (200, JSON) and refuses bad ones. Answers the
 * tenant, a minter of request tokens for the benchmark's route, and Warden's body.
 */
async function installConnect(warden, keys) {
  const { installToken, requestTokenMinter } = require('./connect-jwt');
  const tenant = {
    clientKey: `warden-bench-${randomUUID()}`,
    // Atlassian's shared secrets are 44 characters or more; Warden asks for at least 32.
    sharedSecret: randomBytes(33).toString('base64url'),
    baseUrl: CONNECT_TENANT_BASE_URL,
    accountId: `712020:${randomUUID()}`,
  };
  const install = {
    key: CONNECT_APP_KEY,
    clientKey: tenant.clientKey,
    sharedSecret: tenant.sharedSecret,
    baseUrl: tenant.baseUrl,
    displayUrl: tenant.baseUrl,
    productType: 'jira',
    description: 'Warden benchmark tenant',
    eventType: 'installed',
  };
  const res = await call('POST', `${warden.base}/connect/installed`, {
    authorization: `JWT ${installToken({
      privateKey: keys.privateKey,
      kid: keys.kid,
      clientKey: tenant.clientKey,
      audience: warden.base,
    })}`,
    body: install,
  });
  if (res.status < 200 || res.status > 299) {
    throw new Error(
      `POST /connect/installed answered ${res.status}: ${res.text.slice(0, 500)}` +
        ` (the keys server answered ${keys.requests} request(s))`,
    );
  }
  const installStatus = res.status;
  const mint = requestTokenMinter({
    clientKey: tenant.clientKey,
    sharedSecret: tenant.sharedSecret,
    accountId: tenant.accountId,
    method: 'GET',
    path: CONNECT_PATH,
    ttlSeconds: connectTokenTtl(),
  });
  const whoami = await call('GET', `${warden.base}${CONNECT_PATH}`, {
    authorization: `JWT ${mint()}`,
  });
  if (whoami.status !== 200 || !whoami.json) {
    throw new Error(
      `Warden GET ${CONNECT_PATH} with a Connect token answered ${whoami.status}: ` +
        whoami.text.slice(0, 500),
    );
  }
  const refused = await checkConnectRefusals(warden.base, mint, 'Warden', [401]);
  return {
    tenant,
    mint,
    body: whoami.text,
    contentType: whoami.headers.get('content-type'),
    install: { status: installStatus, keysServerRequests: keys.requests, kid: keys.kid },
    refused,
  };
}

/**
 * Bad Connect tokens on `base`'s Connect route: another signing secret, a query hash for another
 * request, an unknown issuer, an expired token, and none at all. Each must be refused with one
 * of `statuses` (atlassian-connect-express answers 400 for a bad signature, 401 otherwise).
 * Answers the status per case.
 */
async function checkConnectRefusals(base, mint, name, statuses) {
  const { qsh } = require('./connect-jwt');
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    'bad signature': mint({}, randomBytes(32)),
    'query hash of another request': mint({ qsh: qsh('GET', '/connect/other') }),
    'unknown issuer': mint({ iss: `unknown-${randomUUID()}` }),
    expired: mint({ iat: now - 600, exp: now - 400 }),
    'no token': null,
  };
  const refused = {};
  for (const [label, token] of Object.entries(cases)) {
    const res = await call('GET', `${base}${CONNECT_PATH}`, {
      authorization: token === null ? undefined : `JWT ${token}`,
    });
    refused[label] = res.status;
    if (!statuses.includes(res.status)) {
      throw new Error(
        `${name} GET ${CONNECT_PATH} with ${label === 'no token' ? 'no token' : `a token with ${label}`}` +
          ` answered ${res.status} (expected ${statuses.join(' or ')}): ${res.text.slice(0, 300)}`,
      );
    }
  }
  return refused;
}

/** PostgreSQL databases this run created (ACE's store), dropped when the run ends. */
const createdDatabases = new Set();

async function createDatabase(prefix) {
  const { Client } = require('pg');
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
    log(`Could not drop ${[...createdDatabases].join(', ')}: ${err.message}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * The atlassian-connect-express peer (bench/ace-peer.js) on the server's core: the tenant saved
 * in ACE's store (sequelize on a PostgreSQL database of the run's own, as ACE's app template
 * runs in production), Warden's body. Checks it answers a good token with exactly Warden's body
 * and refuses the bad ones.
 */
async function startAce(connect) {
  const port = await freePort();
  const logFile = path.join(tmpDir, 'ace-peer.log');
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production' };
  delete env.NODE_OPTIONS;
  Object.assign(env, {
    ACE_APP_KEY: CONNECT_APP_KEY,
    ACE_CLIENT_KEY: connect.tenant.clientKey,
    ACE_SHARED_SECRET: connect.tenant.sharedSecret,
    ACE_TENANT_BASE_URL: connect.tenant.baseUrl,
    ACE_CONNECT_BODY: connect.body,
    ACE_STORE_URL: await createDatabase('warden_bench_ace').catch((err) => {
      throw new Error(
        `the ACE peer's store needs PostgreSQL at ${POSTGRES_URL} (BENCH_POSTGRES_URL), or ` +
          `BENCH_CONNECT=0 to leave the Connect scenarios out: ${err.message}`,
      );
    }),
    ACE_EXIT_ON_STDIN_END: '1',
  });
  const child = spawnChild('ace-peer', plan.serverCpu, [path.join(__dirname, 'ace-peer.js')], {
    env,
    logFile,
    stdin: 'pipe',
  });
  const base = `http://127.0.0.1:${port}`;
  // Up once it refuses a request without a token.
  await waitForStatus(`${base}${CONNECT_PATH}`, 401, child, logFile);
  const res = await call('GET', `${base}${CONNECT_PATH}`, {
    authorization: `JWT ${connect.mint()}`,
  });
  if (res.status !== 200 || res.text !== connect.body) {
    throw new Error(
      `the ACE peer GET ${CONNECT_PATH} answered ${res.status} ${res.text.slice(0, 300)}, ` +
        `not Warden's ${connect.body}\nIts last output:\n${tail(logFile)}`,
    );
  }
  const refused = await checkConnectRefusals(base, connect.mint, 'the ACE peer', [400, 401]);
  return { child, base, logFile, refused };
}

/**
 * Mints never-seen access tokens with GET /system/reauth: `chains` requests in flight, each chain
 * reusing its session's refresh token (with rotation off a refresh token stays valid and each
 * answer is one fresh access token, a new jti). The chains share MINT_SESSIONS logins. Should
 * reauth still rotate (the settings not taken), each session is one chain following its rotated
 * refresh token, at two signatures per token.
 */
class Minter {
  constructor(warden, chains) {
    this.warden = warden;
    this.size = chains;
    this.sessions = null; // [{ refresh }], one per login
    this.rotating = null; // learnt from the first answer
    this.jtis = new Set(); // every jti handed out in this benchmark: none may come twice
  }

  async reauth(session) {
    const pair = await getJson(`${this.warden.base}/system/reauth`, `Bearer ${session.refresh}`);
    if (!pair.authentication)
      throw new Error(`reauth answered no access token: ${JSON.stringify(pair)}`);
    if (pair.refresh) session.refresh = pair.refresh;
    return pair;
  }

  async mint(count) {
    const tokens = [];
    if (!this.sessions) {
      const logins = Math.min(this.size, MINT_SESSIONS);
      this.sessions = [];
      for (let i = 0; i < logins; i++) {
        const pair = await getJson(`${this.warden.base}/system/auth`, this.warden.basic);
        this.sessions.push({ refresh: pair.refresh });
      }
      // One request first, to learn whether reauth rotates: shared refresh tokens need it not to.
      const pair = await this.reauth(this.sessions[0]);
      tokens.push(pair.authentication);
      this.rotating = Boolean(pair.refresh);
      if (this.rotating)
        log(
          `  WARNING: reauth still rotates refresh tokens: minting with ${logins} chains, ` +
            'two signatures per token',
        );
    }
    const chains = this.rotating
      ? this.sessions
      : Array.from({ length: this.size }, (_, i) => this.sessions[i % this.sessions.length]);
    let remaining = count - tokens.length;
    let failure = null;
    await Promise.all(
      chains.map(async (session) => {
        while (remaining > 0 && !failure) {
          remaining--;
          try {
            tokens.push((await this.reauth(session)).authentication);
          } catch (err) {
            failure = failure || err;
          }
        }
      }),
    );
    if (failure) throw failure;
    let minExpiry = Infinity;
    for (const token of tokens) {
      const claims = claimsOf(token);
      if (this.jtis.has(claims.jti)) throw new Error('reauth handed out a token twice');
      this.jtis.add(claims.jti);
      minExpiry = Math.min(minExpiry, claims.exp * 1000);
    }
    return { tokens, minExpiry };
  }
}

// ---------------------------------------------------------------------------------------------
// Load runs

let specCounter = 0;

/** Runs bench/load.js (warm-up, then measured run) in its own process; returns its JSON. */
function runLoad(spec) {
  const specFile = path.join(tmpDir, `spec-${++specCounter}.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const logFile = path.join(tmpDir, `load-${specCounter}.log`);
  const child = spawnChild('load', plan.loadCpu, [path.join(__dirname, 'load.js'), specFile], {
    logFile,
    stdin: 'pipe',
    stdout: 'pipe',
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => (out += chunk));
  const limitMs = ((spec.warmup || 0) + spec.duration + 60) * 1000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`load generator did not finish within ${limitMs / 1000} s`));
    }, limitMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        return reject(new Error(`load generator failed (${code ?? signal}):\n${tail(logFile)}`));
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (err) {
        reject(new Error(`load generator printed no result: ${err.message}\n${tail(logFile)}`));
      }
    });
  });
}

function checkServerAlive(server, name) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(
      `${name} exited (${server.child.exitCode ?? server.child.signalCode}) during the benchmark.\n` +
        `Its last output:\n${tail(server.logFile)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const median = (values) => {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

function fmt(n, digits = 0) {
  return n === null || n === undefined ? '-' : n.toFixed(digits);
}

function describeRefusals(refused) {
  return Object.entries(refused)
    .map(([label, status]) => `${label} ${status}`)
    .join(', ');
}

function printTable(rows) {
  const header = [
    'scenario',
    'req/s (median)',
    'p50 ms',
    'p99 ms',
    'CPU µs/req',
    'vs bare',
    'target',
    'result',
  ];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.rps),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.cpuUs, 1),
    fmt(r.ratio, 3),
    r.target === null ? '-' : `>= ${r.target.toFixed(2)}`,
    r.result,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ');
  log('');
  log(line(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) log(line(row));
  log('');
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  if (!fs.existsSync(path.join(ROOT, 'dist', 'main.js'))) {
    log('dist/main.js is missing: building Warden (npx nest build)…');
    execSync('npx nest build', { cwd: ROOT, stdio: 'inherit' });
  }
  plan = pinningPlan();
  if (plan.pinned) {
    // This process mints tokens through Warden between runs: keep it off the server's core too.
    spawnSync('taskset', ['-a', '-cp', String(plan.loadCpu), String(process.pid)], {
      stdio: 'ignore',
    });
  }
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-'));
  log(
    `Warden benchmark: ${config.rounds} round(s) of ${config.duration} s per scenario ` +
      `(+${WARMUP_SECONDS} s warm-up), ${config.connections} connections, pipelining ${config.pipelining}`,
  );
  log(`Pinning: ${plan.note}`);
  // Warden at BENCH_PEER_REF, checked out and built before anything is measured (a failed build
  // ends the run here); started beside the current one below.
  const peerBuild =
    PEER_REF && SOAK.minutes === 0
      ? await preparePeer({ root: ROOT, ref: PEER_REF, logDir: tmpDir, log })
      : null;
  if (!PEER_REF)
    log(
      'Peer: none. BENCH_PEER_REF=<git ref> (e.g. HEAD~1, the commit before a change) also ' +
        'measures Warden at that ref in the same rounds (bench/README.md)',
    );

  // The Connect part: Warden is the Connect app (its base URL the tokens' audience) and fetches
  // the signed install's public key from a keys server started here.
  const keys = CONNECT_ENABLED ? await startKeysServer() : null;
  const wardenOptions = {
    extraEnv: keys
      ? (base) => ({
          WARDEN_BASE_URL: base,
          CONNECT_APP_KEY,
          CONNECT_KEYS_URL: keys.url,
        })
      : undefined,
  };
  const warden = await startWarden(wardenOptions);
  log(`Warden is up on ${warden.base}`);
  const settings = await configureSettings(warden);
  const describeLimit = (l) =>
    l ? `${l.enabled ? '' : 'off, '}${l.requests} requests per ${l.windowSeconds} s` : 'none';
  log(
    `Settings: refresh-token rotation ${settings.after.rotateRefreshTokens ? 'on' : 'off'} ` +
      `(was ${settings.before.rotateRefreshTokens ? 'on' : 'off'}), access tokens live ` +
      `${settings.after.accessTtlSeconds} s (was ${settings.before.accessTtlSeconds} s), ` +
      `rate limit per credential ${describeLimit(settings.rateLimitAfter)} ` +
      `(was ${describeLimit(settings.rateLimitBefore)})`,
  );
  const after = settings.documentAfter;
  log(
    `Restrictions${settings.forced ? ' (applied with force=true)' : ''}: ip.allow ` +
      `${after.ip.allow.length} entries (…, ${after.ip.allow.slice(-2).join(', ')}), ` +
      `groups.apiAccess ${after.groups.apiAccess.length} + groups.readOnly ` +
      `${after.groups.readOnly.length} groups, bypass.paths ${after.bypass.paths.length} + ` +
      `publicApis.paths ${after.publicApis.paths.length} patterns ` +
      `(publicApis.requireAuthentication ${after.publicApis.requireAuthentication})`,
  );
  // Every access token comes from the minter (logins are few: they may have a budget of their own).
  const minter = new Minter(warden, config.mintChains);
  // The peer's scenarios take their credentials from the peer Warden (started below), the
  // others from the current one.
  let peer = null;
  const credentialsOf = (scenario) => (isPeer(scenario) ? peer : { minter, apiToken, connect });
  // One seen token per `seen` scenario: each sent on every request of its own scenario only.
  const seenTokens = {};
  // (The two set-up checks below use the seen tokens of access-token-seen and decision-seen,
  // minted even when BENCH_SCENARIOS leaves those scenarios out.)
  for (const s of new Set([...SCENARIOS, 'access-token-seen', 'decision-seen'])) {
    if (SCENARIO_SPECS[s].credential === 'seen' && !isPeer(s))
      seenTokens[s] = (await minter.mint(1)).tokens[0];
  }
  const whoami = await call('GET', `${warden.base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${seenTokens['access-token-seen']}`,
  });
  const whoamiBody = whoami.text;
  if (whoami.status !== 200 || !whoami.json || whoami.json.authMethod !== 'access')
    throw new Error(`Warden GET ${WHOAMI_PATH} answered ${whoami.status}: ${whoamiBody}`);
  const decision = await checkDecision(warden, seenTokens['decision-seen']);
  const decisionBody = decision.body;
  log(
    `Restrictions in force: ${DECISION_PATH} lets ${BYPASS_PROBE} (bypass) and ${PUBLIC_PROBE} ` +
      `(public) through; for ${ORIGINAL_REQUEST.method} ${ORIGINAL_REQUEST.uri} it answers ` +
      `${decisionBody} with ${Object.entries(decision.wardenHeaders)
        .filter(([name]) => name !== 'x-warden-credential-id')
        .map(([name, value]) => `${name}: ${value}`)
        .join(', ')}`,
  );
  const apiToken = await createApiToken(warden);
  log(
    `API token ${apiToken.info.prefix}… created (scopes ${apiToken.info.scopes}); ` +
      `GET ${WHOAMI_PATH} with it answers ${apiToken.whoamiBody}`,
  );
  const external = await configureExternal(warden);
  log(
    `External IdP configured (publicKey mode); GET ${WHOAMI_PATH} with its token answers ` +
      external.whoamiBody,
  );
  let connect = null;
  try {
    if (keys) connect = await installConnect(warden, keys);
    if (peerBuild)
      peer = await startPeer(
        {
          startWarden,
          wardenOptions,
          configureSettings,
          checkDecision,
          createApiToken,
          installConnect: CONNECT_ENABLED ? installConnect : null,
          Minter,
          mintChains: config.mintChains,
          call,
          log,
          whoamiPath: WHOAMI_PATH,
        },
        peerBuild,
        keys,
      );
  } finally {
    // Needed for the installs only (Warden keeps the key).
    if (keys) await new Promise((resolve) => keys.server.close(resolve));
  }
  for (const s of SCENARIOS.filter(isPeer)) {
    if (SCENARIO_SPECS[s].credential === 'seen')
      seenTokens[s] = (await peer.minter.mint(1)).tokens[0];
  }
  if (keys) {
    log(
      `Connect: tenant ${connect.tenant.clientKey} installed (POST /connect/installed, signed ` +
        `install, ${connect.install.status}; the keys server answered ` +
        `${connect.install.keysServerRequests} request(s)); GET ${CONNECT_PATH} with a fresh ` +
        `Connect JWT answers ${connect.body}; bad tokens refused: ${describeRefusals(connect.refused)}`,
    );
  }
  if (SOAK.minutes > 0) {
    // The memory soak instead of the throughput rounds (npm run bench:soak; bench/soak.js).
    const soak = await runSoak(
      {
        warden,
        minter,
        connect,
        connectPath: CONNECT_PATH,
        plan,
        spawnChild,
        call,
        log,
        tail,
        tmpDir,
        resultsDir: RESULTS_DIR,
      },
      SOAK,
    );
    if (soak.result === 'ERROR') process.exitCode = 1;
    return;
  }
  const bare = await startBare(whoamiBody, decisionBody, connect && connect.body);
  log(
    `Bare Fastify is up on ${bare.base}; both answer ${WHOAMI_PATH} with ${whoamiBody} and ` +
      `${DECISION_PATH} with ${decisionBody}` +
      (connect ? ` (and ${CONNECT_PATH} with Warden's Connect body)` : ''),
  );
  const bareNest = SCENARIOS.includes('bare-nest')
    ? await startBare(whoamiBody, decisionBody, connect && connect.body, 'nest')
    : null;
  if (bareNest) log(`Bare NestJS (Fastify adapter) is up on ${bareNest.base}; same bodies`);
  const nestJwt = SCENARIOS.includes('nest-passport-jwt')
    ? await startNestJwt(whoamiBody, 'string')
    : null;
  const nestJwtKeyObject = SCENARIOS.includes('nest-passport-jwt-keyobject')
    ? await startNestJwt(whoamiBody, 'keyobject')
    : null;
  for (const [server, secret] of [
    [nestJwt, 'a string'],
    [nestJwtKeyObject, 'a KeyObject'],
  ]) {
    if (!server) continue;
    log(
      `NestJS passport-jwt (AuthGuard('jwt'), HS256 secret as ${secret}) is up on ${server.base}; ` +
        `${WHOAMI_PATH} answers Warden's body with its token, refuses none and a forged one (401)`,
    );
  }
  const acePeer = connect ? await startAce(connect) : null;
  if (acePeer) {
    log(
      `atlassian-connect-express ${require('atlassian-connect-express/package.json').version} ` +
        `peer is up on ${acePeer.base} (express, sequelize on PostgreSQL, the tenant in its store); ` +
        `GET ${CONNECT_PATH} answers Warden's body with a good token; bad tokens refused: ` +
        describeRefusals(acePeer.refused),
    );
  }

  const common = {
    connections: config.connections,
    pipelining: config.pipelining,
    duration: config.duration,
    warmup: WARMUP_SECONDS,
  };
  const runs = Object.fromEntries(SCENARIOS.map((s) => [s, []]));
  const problems = [];
  const mints = [];

  const servers = {
    warden,
    bare,
    nest: bareNest,
    nestJwt,
    nestJwtKeyObject,
    ace: acePeer,
    peer: peer && peer.warden,
  };

  /** Load spec of a scenario; `tokens` ({ file, warm }) for the fresh-token ones. */
  const specFor = (scenario, tokens) => {
    const def = SCENARIO_SPECS[scenario];
    const server = servers[def.server];
    const spec = { ...common, url: `${server.base}${def.path}`, headers: { ...def.headers } };
    if (def.credential === 'seen') spec.headers.authorization = `Bearer ${seenTokens[scenario]}`;
    if (def.credential === 'api-token')
      spec.headers.authorization = `Bearer ${credentialsOf(scenario).apiToken.token}`;
    if (def.credential === 'nest-jwt') spec.headers.authorization = `Bearer ${server.token}`;
    if (def.credential === 'external') spec.headers.authorization = `Bearer ${external.token}`;
    if (def.credential === 'fresh' || def.credential === 'connect') {
      spec.tokensFile = tokens.file;
      spec.warmupTokens = tokens.warm;
    }
    if (def.credential === 'connect') spec.tokenScheme = 'JWT';
    spec.serverPid = server.child.pid;
    return spec;
  };

  /** One load run; a scenario without audit has it switched off for its run only. */
  const runScenario = async (scenario, spec) => {
    const auditOff = SCENARIO_SPECS[scenario].audit === false;
    if (auditOff) await setAudit(warden, false);
    try {
      return await runLoad(spec);
    } finally {
      if (auditOff) await setAudit(warden, true);
    }
  };

  /** Records non-2xx responses and errors of a load run (every phase) as problems. */
  const checkRun = (label, result) => {
    for (const [phase, r] of [
      ['warm-up', result.warmup],
      ['measured run', result.measured],
    ]) {
      if (!r) continue;
      if (r.non2xx > 0 || r.errors > 0) {
        const message =
          `${label} ${phase}: ${r.non2xx} non-2xx responses, ${r.errors} errors ` +
          `(${r.timeouts} timeouts); status codes ${JSON.stringify(r.statusCodeStats)}`;
        problems.push(message);
        log(`  ERROR: ${message}`);
      }
    }
  };

  const ensureSeenToken = async (scenario) => {
    // Same token for a whole run; replaced (between runs) only if it would expire mid-run.
    const margin = (WARMUP_SECONDS + config.duration + 60) * 1000;
    if (tokenExpiry(seenTokens[scenario]) - Date.now() < margin) {
      seenTokens[scenario] = (await credentialsOf(scenario).minter.mint(1)).tokens[0];
    }
  };

  // Fresh tokens: one file per fresh-token scenario and round, each token in exactly one file,
  // each file used by one run only.
  const runSeconds = WARMUP_SECONDS + config.duration + RUN_OVERHEAD_SECONDS;
  const roundSeconds = SCENARIOS.length * runSeconds;
  const batches = new Map(); // `${scenario} ${round}` -> { file, count, warm, minExpiry }
  const batchKey = (scenario, round) => `${scenario} ${round}`;
  const estimates = {}; // fresh-token scenario -> expected req/s
  let mintRate = null; // tokens/s of the last mint

  const budgetFor = (estimateRps, headroom = TOKEN_HEADROOM) => {
    const measured = Math.min(
      config.maxTokens,
      Math.max(config.connections * 10, Math.ceil(estimateRps * config.duration * headroom)),
    );
    const warm = Math.min(
      // The warm-up only has to warm the verification path: a quarter of the cap is plenty.
      Math.max(config.connections * 4, Math.ceil(config.maxTokens / 4)),
      Math.max(config.connections * 2, Math.ceil(estimateRps * WARMUP_SECONDS * headroom)),
    );
    return { measured, warm };
  };

  // Connect request tokens, minted here (HMAC-SHA256 over the tenant's shared secret, a new
  // random jti each) into one file per run, just before that run: they live connectTokenTtl()
  // seconds, as the host's do.
  const connectMints = [];
  const mintConnectBatch = (scenario, label, { warm, measured }) => {
    const count = warm + measured;
    const t0 = process.hrtime.bigint();
    const tokens = new Array(count);
    const { mint } = credentialsOf(scenario).connect;
    for (let i = 0; i < count; i++) tokens[i] = mint();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const file = path.join(tmpDir, `tokens-${scenario}-${label}.txt`);
    fs.writeFileSync(file, tokens.join('\n') + '\n');
    connectMints.push({ scenario, purpose: label, tokens: count, warm, seconds });
    return { file, count, warm };
  };

  /** `from`: the minter of the Warden that takes them (the current one or the peer). */
  const mintTokens = async (count, from = minter) => {
    const t0 = Date.now();
    const minted = await from.mint(count);
    return { ...minted, seconds: (Date.now() - t0) / 1000 };
  };

  const recordMint = (purpose, rounds, tokens, seconds, calibration = false, from = minter) => {
    const entry = {
      purpose,
      calibration,
      rounds,
      tokens,
      seconds,
      perSecond: tokens / seconds,
      signaturesPerToken: from.rotating ? 2 : 1,
      chains: from.rotating ? from.sessions.length : config.mintChains,
      sessions: from.sessions.length,
      ...(from === minter ? {} : { peer: true }),
    };
    mints.push(entry);
    mintRate = entry.perSecond;
    log(
      `  minted ${tokens} fresh access tokens (${purpose}) in ${seconds.toFixed(1)} s ` +
        `(${entry.perSecond.toFixed(0)}/s, ${entry.chains} chains on ${entry.sessions} sessions, ` +
        `${entry.signaturesPerToken} signature(s) each) via GET /system/reauth`,
    );
  };

  /** Rounds, from `round` on, whose tokens can all be minted now and still be alive when used. */
  const roundsThatFit = (round, perRound) => {
    const ttl = settings.after.accessTtlSeconds;
    for (let k = config.rounds - round + 1; k > 1; k--) {
      const mintSeconds = (k * perRound) / (mintRate || 100);
      if (mintSeconds + k * roundSeconds + EXPIRY_MARGIN_SECONDS <= ttl) return k;
    }
    return 1;
  };

  /** Mints one run's tokens for `scenario` (sized on its estimate) into its own file. */
  const mintBatch = async (scenario, round, suffix = '') => {
    const budget = budgetFor(estimates[scenario]);
    const { tokens, minExpiry, seconds } = await mintTokens(
      budget.warm + budget.measured,
      credentialsOf(scenario).minter,
    );
    const file = path.join(tmpDir, `tokens-${scenario}-${round}${suffix}.txt`);
    fs.writeFileSync(file, tokens.join('\n') + '\n');
    batches.set(batchKey(scenario, round), {
      file,
      count: tokens.length,
      warm: budget.warm,
      minExpiry,
    });
    return { budget, count: tokens.length, seconds };
  };

  const mintRounds = async (from) => {
    const perRound = FRESH_SCENARIOS.reduce((sum, scenario) => {
      const b = budgetFor(estimates[scenario]);
      return sum + b.warm + b.measured;
    }, 0);
    const count = roundsThatFit(from, perRound);
    const list = Array.from({ length: count }, (_, i) => from + i);
    let total = 0;
    let seconds = 0;
    const sizes = {};
    for (const round of list) {
      for (const scenario of FRESH_SCENARIOS) {
        const minted = await mintBatch(scenario, round);
        sizes[scenario] = `${minted.budget.warm} warm-up + ${minted.budget.measured} measured`;
        total += minted.count;
        seconds += minted.seconds;
      }
    }
    const label = list.length === 1 ? `round ${from}` : `rounds ${from}-${from + list.length - 1}`;
    recordMint(
      `${label}: ${list.length} x (${Object.entries(sizes)
        .map(([scenario, size]) => `${scenario} ${size}`)
        .join('; ')})`,
      list,
      total,
      seconds,
    );
  };

  // Calibration, every run discarded: for each scenario with a seen token a short run (which
  // also warms its route up), for each fresh-token scenario a short run on fresh tokens, whose
  // rate sizes that scenario's tokens. The first half of those only warms the fresh-token path
  // up (measured cold, the rate comes out far too low).
  const calibrations = {};
  for (const scenario of SCENARIOS.filter((s) => SCENARIO_SPECS[s].credential === 'seen')) {
    log(`Calibrating ${scenario} with its one token (${2 * WARMUP_SECONDS} s, discarded)…`);
    await ensureSeenToken(scenario);
    const result = await runScenario(scenario, { ...specFor(scenario), duration: WARMUP_SECONDS });
    checkRun(`calibration (${scenario})`, result);
    calibrations[scenario] = result.measured;
    log(`  ${scenario}: ${fmt(result.measured.rps)} req/s`);
  }
  for (const scenario of FRESH_SCENARIOS) {
    const calibrationCount = Math.min(config.maxTokens, config.connections * 300);
    const from = credentialsOf(scenario).minter;
    const cal = await mintTokens(calibrationCount, from);
    recordMint(`calibration of ${scenario}`, [], cal.tokens.length, cal.seconds, true, from);
    const file = path.join(tmpDir, `tokens-calibration-${scenario}.txt`);
    fs.writeFileSync(file, cal.tokens.join('\n') + '\n');
    log(
      `Calibrating ${scenario} with ${cal.tokens.length} fresh tokens (half of them to warm up; ` +
        `at most ${2 * WARMUP_SECONDS} s, discarded)…`,
    );
    const result = await runLoad({
      ...specFor(scenario, { file, warm: Math.floor(cal.tokens.length / 2) }),
      duration: WARMUP_SECONDS,
    });
    fs.rmSync(file, { force: true });
    checkRun(`calibration (${scenario})`, result);
    calibrations[scenario] = result.measured;
    estimates[scenario] = result.measured.rps;
    log(
      `  ${scenario}: ${fmt(result.measured.rps)} req/s ` +
        `(${result.measured.requests} in ${result.measured.elapsedSeconds} s)`,
    );
  }

  for (const scenario of CONNECT_SCENARIOS) {
    const calibrationCount = Math.min(config.maxTokens, config.connections * 300);
    const half = Math.floor(calibrationCount / 2);
    const batch = mintConnectBatch(scenario, 'calibration', {
      warm: half,
      measured: calibrationCount - half,
    });
    log(
      `Calibrating ${scenario} with ${batch.count} fresh Connect tokens (half of them to warm ` +
        `up; at most ${2 * WARMUP_SECONDS} s, discarded)…`,
    );
    const result = await runLoad({
      ...specFor(scenario, batch),
      duration: WARMUP_SECONDS,
    });
    fs.rmSync(batch.file, { force: true });
    checkRun(`calibration (${scenario})`, result);
    calibrations[scenario] = result.measured;
    estimates[scenario] = result.measured.rps;
    log(
      `  ${scenario}: ${fmt(result.measured.rps)} req/s ` +
        `(${result.measured.requests} in ${result.measured.elapsedSeconds} s)`,
    );
  }

  // Fresh tokens for as many rounds as their lifetime allows (all of them, normally), at once.
  if (FRESH_SCENARIOS.length > 0) await mintRounds(1);

  for (let round = 1; round <= config.rounds; round++) {
    log(`Round ${round}/${config.rounds}`);
    if (FRESH_SCENARIOS.length > 0 && !batches.has(batchKey(FRESH_SCENARIOS[0], round)))
      await mintRounds(round);

    for (const scenario of SCENARIOS) {
      const credential = SCENARIO_SPECS[scenario].credential;
      let batch = null;
      if (credential === 'seen') await ensureSeenToken(scenario);
      if (credential === 'fresh') {
        // This scenario's own tokens for this round, never sent before; they must outlive the
        // run, else mint anew.
        batch = batches.get(batchKey(scenario, round));
        const runEnds = Date.now() + (WARMUP_SECONDS + config.duration + 30) * 1000;
        if (batch.minExpiry < runEnds) {
          log(`  tokens minted for ${scenario} would expire during its run: minting them again`);
          fs.rmSync(batch.file, { force: true });
          batches.delete(batchKey(scenario, round));
          const minted = await mintBatch(scenario, round, '-again');
          recordMint(
            `${scenario} round ${round} (again)`,
            [round],
            minted.count,
            minted.seconds,
            false,
            credentialsOf(scenario).minter,
          );
          batch = batches.get(batchKey(scenario, round));
        }
      }
      // Connect tokens: this run's own, minted now.
      if (credential === 'connect')
        batch = mintConnectBatch(
          scenario,
          `round-${round}`,
          budgetFor(estimates[scenario], CONNECT_TOKEN_HEADROOM),
        );
      const result = await runScenario(scenario, specFor(scenario, batch));
      if (batch) {
        // Spent: nothing reads this file again.
        fs.rmSync(batch.file, { force: true });
        batches.delete(batchKey(scenario, round));
      }
      checkServerAlive(warden, 'Warden');
      checkServerAlive(bare, 'bare Fastify');
      if (acePeer) checkServerAlive(acePeer, 'the ACE peer');
      if (peer) checkServerAlive(peer.warden, `the peer Warden (${PEER_REF})`);
      for (const [server, name] of [
        [bareNest, 'bare NestJS'],
        [nestJwt, 'nest-passport-jwt'],
        [nestJwtKeyObject, 'nest-passport-jwt-keyobject'],
      ])
        if (server) checkServerAlive(server, name);
      const m = result.measured;
      runs[scenario].push({ round, ...m, warmup: result.warmup });
      let note = '';
      if (m.tokensExhausted)
        note = `  (tokens ran out: ${m.tokensAvailable} requests in ${m.elapsedSeconds} s)`;
      log(
        `  ${scenario.padEnd(28)} ${fmt(m.rps).padStart(7)} req/s  p50 ${fmt(m.latencyMs.p50, 2)} ms` +
          `  p99 ${fmt(m.latencyMs.p99, 2)} ms  ${m.requests} requests` +
          `  CPU server ${fmt(m.cpuPercent.server)}% (${fmt(cpuUsPerRequest(m), 1)} µs/request)` +
          ` / load ${fmt(m.cpuPercent.loadGenerator)}%${note}`,
      );
      checkRun(`${scenario} round ${round}`, result);
      if (usesTokenFile(scenario)) estimates[scenario] = m.rps;
    }
  }

  // The audit's cost under load, in pairs of runs back to back: run-to-run drift on this kind of
  // machine (±10 % between runs minutes apart) is larger than the cost, but it moves both runs of
  // a pair alike. Each pair's order alternates, so that neither side always runs second.
  const auditPairs = [];
  if (config.auditPairs > 0 && SCENARIOS.includes('access-token-seen')) {
    log(
      `Audit on and off: ${config.auditPairs} pairs of ${config.auditSeconds} s runs of ` +
        `access-token-seen, back to back, order alternating`,
    );
    await ensureSeenToken('access-token-seen');
    const spec = {
      ...specFor('access-token-seen'),
      duration: config.auditSeconds,
      warmup: 1,
    };
    for (let pair = 1; pair <= config.auditPairs; pair++) {
      const measured = {};
      for (const audit of pair % 2 === 1 ? [true, false] : [false, true]) {
        if (!audit) await setAudit(warden, false);
        try {
          const gcBefore = await gcSnapshot(warden);
          const result = await runLoad(spec);
          checkRun(`audit pair ${pair} (audit ${audit ? 'on' : 'off'})`, result);
          const gcAfter = await gcSnapshot(warden);
          measured[audit ? 'on' : 'off'] = {
            ...result.measured,
            gcMs: gcSpent(gcBefore, gcAfter),
            heapUsed: gcAfter.heapUsed,
          };
        } finally {
          if (!audit) await setAudit(warden, true);
        }
      }
      const entry = {
        pair,
        rpsOn: measured.on.rps,
        rpsOff: measured.off.rps,
        cpuUsOn: cpuUsPerRequest(measured.on),
        cpuUsOff: cpuUsPerRequest(measured.off),
        gcMsOn: measured.on.gcMs,
        gcMsOff: measured.off.gcMs,
        heapUsed: measured.on.heapUsed,
      };
      entry.cpuCost = entry.cpuUsOn && entry.cpuUsOff ? 1 - entry.cpuUsOff / entry.cpuUsOn : null;
      entry.throughputCost = 1 - entry.rpsOn / entry.rpsOff;
      auditPairs.push(entry);
      log(
        `  pair ${pair}: ${fmt(entry.rpsOn)} vs ${fmt(entry.rpsOff)} req/s, CPU per request ` +
          `${fmt(entry.cpuUsOn, 1)} vs ${fmt(entry.cpuUsOff, 1)} µs: audit ` +
          `${fmt(entry.cpuCost * 100, 1)} % of request CPU, ${fmt(entry.throughputCost * 100, 1)} % ` +
          `of throughput; GC ${describeGc(entry.gcMsOn)} vs ${describeGc(entry.gcMsOff)} ms ` +
          `(warm-up and run), heap ${fmt(entry.heapUsed / 1e6)} MB`,
      );
    }
  }

  // Summary
  const medianRps = (scenario) => median(runs[scenario].map((r) => r.rps));
  const summary = SCENARIOS.map((scenario) => {
    const rps = medianRps(scenario);
    const baseline = BASELINES[scenario] ?? null;
    const baselineRps = baseline ? medianRps(baseline) : null;
    const ratio = baselineRps ? rps / baselineRps : null;
    const target = TARGETS[scenario] ?? null;
    const failed = runs[scenario].some(
      (r) =>
        r.non2xx > 0 || r.errors > 0 || (r.warmup && (r.warmup.non2xx > 0 || r.warmup.errors > 0)),
    );
    return {
      scenario,
      rps,
      p50Ms: median(runs[scenario].map((r) => r.latencyMs.p50)),
      p99Ms: median(runs[scenario].map((r) => r.latencyMs.p99)),
      // Server CPU per request (µs), median over the rounds: steadier than req/s on a busy machine.
      cpuUs: median(runs[scenario].map(cpuUsPerRequest)),
      baseline,
      ratio,
      target,
      result: failed ? 'ERROR' : target === null ? '-' : ratio >= target ? 'PASS' : 'MISS',
      ...(usesTokenFile(scenario)
        ? {
            // Runs that spent their tokens before 95 % of the duration.
            tokensRanOut: runs[scenario].filter(
              (r) => r.tokensExhausted && r.elapsedSeconds < 0.95 * config.duration,
            ).length,
            medianSecondsRun: median(runs[scenario].map((r) => r.elapsedSeconds)),
          }
        : {}),
    };
  });

  const roundMints = mints.filter((m) => !m.calibration);
  const mintedTokens = roundMints.reduce((a, m) => a + m.tokens, 0);
  const mintSeconds = roundMints.reduce((a, m) => a + m.seconds, 0);
  const minting = {
    scenarios: FRESH_SCENARIOS,
    tokens: mintedTokens,
    seconds: Math.round(mintSeconds * 10) / 10,
    perSecond: mintSeconds > 0 ? Math.round(mintedTokens / mintSeconds) : null,
    signaturesPerToken: minter.rotating ? 2 : 1,
    rotation: Boolean(minter.rotating),
    chains: minter.rotating ? minter.sessions.length : config.mintChains,
    sessions: minter.sessions.length,
    batches: roundMints.length,
    calibrationTokens: mints.filter((m) => m.calibration).reduce((a, m) => a + m.tokens, 0),
    allTokens: minter.jtis.size + (peer ? peer.minter.jtis.size : 0),
  };

  log(
    `Medians over ${config.rounds} round(s); ratios are against bare Fastify measured in this ` +
      `same run: ${SCENARIOS.filter((s) => BASELINES[s])
        .map((s) => `${s} vs ${BASELINES[s]}`)
        .join(', ')}.`,
  );
  printTable(summary);
  const peerComparison = peer ? comparePeers(summary, runs) : null;
  if (peerComparison) printPeerComparison(peerComparison, peerBuild, log);
  const connectVsAce =
    connect && SCENARIOS.includes(CONNECT_VS_ACE.scenario) ? compareWithAce(summary, runs) : null;
  if (connectVsAce) {
    const c = connectVsAce;
    log(
      `Connect: Warden ${CONNECT_PATH} with a never-seen Connect JWT per request ` +
        `${fmt(c.wardenRps)} req/s (${fmt(c.wardenVsBare, 3)} of bare), atlassian-connect-express ` +
        `authenticate() ${fmt(c.aceRps)} req/s (${fmt(c.aceVsBare, 3)} of bare; the tenant read ` +
        `from its PostgreSQL store per request): Warden/ACE ${fmt(c.ratio, 2)} (per round ` +
        `${c.perRound.map((r) => fmt(r, 2)).join(', ')}; target >= ${c.target}) -> ${c.result}. ` +
        `Server CPU per request: Warden ${fmt(c.wardenCpuUs, 0)} µs, ACE ${fmt(c.aceCpuUs, 0)} µs ` +
        `(${fmt(c.cpuRatio, 2)}×)`,
    );
  }
  // The audit's cost needs its pairs (BENCH_AUDIT_PAIRS=0 or BENCH_SCENARIOS may leave them out).
  const audit =
    auditPairs.length > 0
      ? await auditCost(warden, runs, auditPairs)
      : {
          skipped:
            config.auditPairs === 0
              ? 'BENCH_AUDIT_PAIRS=0'
              : 'BENCH_SCENARIOS left access-token-seen out',
        };
  if (audit.skipped) log(`Audit cost: not measured (${audit.skipped})`);
  else
    log(
      `Audit under load, median of ${auditPairs.length} pairs: ${fmt(audit.cpuCost * 100, 1)} % ` +
        `of request CPU (${fmt(audit.cpuUsOn, 1)} vs ${fmt(audit.cpuUsOff, 1)} µs per request), ` +
        `${fmt(audit.throughputCost * 100, 1)} % of throughput. Measured alone, one row costs ` +
        `${fmt(audit.isolated && audit.isolated.cpuUsPerRow, 2)} µs of CPU (guard's row, buffer, ` +
        `batched INSERT on SQLite): ${fmt(audit.cost * 100, 1)} % of request CPU. All three under ` +
        `${AUDIT_COST_TARGET * 100} % -> ${audit.result}. Rows written ${audit.flushed}, ` +
        `dropped ${audit.dropped}.`,
    );
  const purge = process.env.BENCH_PURGE === '0' ? { skipped: 'BENCH_PURGE=0' } : await purgeBench();
  if (FRESH_SCENARIOS.length > 0)
    log(
      `Minting for ${FRESH_SCENARIOS.join(' and ')}: ${minting.tokens} tokens in ` +
        `${minting.seconds} s = ${minting.perSecond}/s (GET /system/reauth, rotation ` +
        `${minting.rotation ? 'on' : 'off'}, ${minting.signaturesPerToken} signature(s) per token, ` +
        `${minting.chains} chains on ${minting.sessions} sessions, ${minting.batches} batch(es)); ` +
        `${minting.allTokens} access tokens minted in all, calibration and seen tokens included`,
    );
  const connectMinting = connect
    ? {
        scenarios: CONNECT_SCENARIOS,
        tokens: connectMints.reduce((a, m) => a + m.tokens, 0),
        seconds: Math.round(connectMints.reduce((a, m) => a + m.seconds, 0) * 100) / 100,
        ttlSeconds: connectTokenTtl(),
        batches: connectMints,
      }
    : null;
  if (connectMinting && CONNECT_SCENARIOS.length > 0) {
    log(
      `Connect tokens for ${CONNECT_SCENARIOS.join(' and ')}: ${connectMinting.tokens} minted ` +
        `here in ${fmt(connectMinting.seconds, 2)} s (HS256 over the tenant's secret, a new jti ` +
        `each, valid ${connectMinting.ttlSeconds} s), calibration included, each run's just ` +
        `before it`,
    );
  }
  for (const row of summary.filter((r) => r.tokensRanOut > 0)) {
    log(
      `${row.scenario} ran out of tokens early in ${row.tokensRanOut} of ${config.rounds} round(s) ` +
        `(median ${fmt(row.medianSecondsRun, 1)} s of ${config.duration} s); ` +
        `raise BENCH_MAX_TOKENS to run longer`,
    );
  }
  if (problems.length > 0) {
    log(`ERROR: ${problems.length} run(s) had non-2xx responses or errors (see above):`);
    for (const p of problems) log(`  - ${p}`);
    const wardenLog = tail(warden.logFile, 15);
    if (wardenLog) log(`Warden's last output:\n${wardenLog}`);
    if (acePeer && problems.some((p) => p.startsWith('ace-') || p.includes('(ace-')))
      log(`The ACE peer's last output:\n${tail(acePeer.logFile, 15)}`);
    if (peer && problems.some((p) => p.includes('peer:')))
      log(`The peer Warden's last output:\n${tail(peer.warden.logFile, 15)}`);
    process.exitCode = 1;
  }

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const gitignore = path.join(RESULTS_DIR, '.gitignore');
  if (!fs.existsSync(gitignore)) fs.writeFileSync(gitignore, '*\n!.gitignore\n');
  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    totalSeconds: Math.round((Date.now() - started.getTime()) / 100) / 10,
    config: {
      ...config,
      targets: TARGETS,
      baselines: BASELINES,
      scenarios: SCENARIOS,
      scenarioSpecs: SCENARIO_SPECS,
      originalRequest: ORIGINAL_REQUEST,
      connect: CONNECT_ENABLED
        ? {
            path: CONNECT_PATH,
            appKey: CONNECT_APP_KEY,
            tenantBaseUrl: CONNECT_TENANT_BASE_URL,
            tokenTtlSeconds: connectTokenTtl(),
            vsAce: CONNECT_VS_ACE,
          }
        : { skipped: 'BENCH_CONNECT=0' },
    },
    environment: {
      node: process.version,
      fastify: require('fastify/package.json').version,
      autocannon: require('autocannon/package.json').version,
      nestjsPassport: require('@nestjs/passport/package.json').version,
      passportJwt: require('passport-jwt/package.json').version,
      ...(CONNECT_ENABLED
        ? {
            atlassianConnectExpress: require('atlassian-connect-express/package.json').version,
            express: require('express/package.json').version,
            sequelize: require('sequelize/package.json').version,
            pg: require('pg/package.json').version,
          }
        : {}),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0] && os.cpus()[0].model,
      pinning: plan,
    },
    settings: {
      tokensBefore: settings.before,
      tokensAfter: settings.after,
      rateLimitBefore: settings.rateLimitBefore,
      rateLimitAfter: settings.rateLimitAfter,
      restrictions: RESTRICTIONS,
      patch: settings.patch,
      forced: settings.forced,
      // The whole document as Warden answered it (secrets masked), before and after the PATCH.
      documentBefore: settings.documentBefore,
      documentAfter: settings.documentAfter,
    },
    whoamiBody,
    decision: {
      originalRequest: ORIGINAL_REQUEST,
      body: decisionBody,
      contentType: decision.contentType,
      wardenHeaders: decision.wardenHeaders,
      probes: { bypass: BYPASS_PROBE, public: PUBLIC_PROBE },
    },
    apiToken: { ...apiToken.info, whoamiBody: apiToken.whoamiBody },
    // The tenant (its shared secret left out), Warden's answers, the ACE peer's refusals.
    connect: connect
      ? {
          clientKey: connect.tenant.clientKey,
          accountId: connect.tenant.accountId,
          baseUrl: connect.tenant.baseUrl,
          install: connect.install,
          body: connect.body,
          contentType: connect.contentType,
          wardenRefused: connect.refused,
          aceRefused: acePeer.refused,
          minting: connectMinting,
          vsAce: connectVsAce,
        }
      : null,
    // BENCH_PEER_REF: the ref, how it was built, and each scenario against it.
    peer: peerBuild
      ? {
          ref: peerBuild.ref,
          commit: peerBuild.commit,
          subject: peerBuild.subject,
          current: peerBuild.current,
          nodeModules: peerBuild.nodeModules,
          buildSeconds: peerBuild.buildSeconds,
          whoamiBody: peer.whoamiBody,
          decision: { body: peer.decision.body, wardenHeaders: peer.decision.wardenHeaders },
          apiToken: peer.apiToken.info,
          connect: peer.connect
            ? { clientKey: peer.connect.tenant.clientKey, refused: peer.connect.refused }
            : null,
          comparison: peerComparison,
        }
      : null,
    calibrations,
    minting,
    mints,
    summary,
    audit,
    purge,
    runs,
    problems,
    ok: problems.length === 0,
  };
  const out = path.join(RESULTS_DIR, 'latest.json');
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  log(`Results written to ${path.relative(process.cwd(), out) || out}`);
  log(`Total time ${fmt(report.totalSeconds, 0)} s`);
}

/**
 * Warden's Connect route against atlassian-connect-express's, both with a never-seen Connect JWT
 * per request: the ratio of the median rates (and each round's ratio, the two runs of a round
 * being close in time).
 */
function compareWithAce(summary, runs) {
  const { scenario, peer, target } = CONNECT_VS_ACE;
  const w = summary.find((r) => r.scenario === scenario);
  const a = summary.find((r) => r.scenario === peer);
  const ratio = a.rps ? w.rps / a.rps : null;
  const perRound = runs[scenario].map((r, i) =>
    runs[peer][i] && runs[peer][i].rps ? r.rps / runs[peer][i].rps : null,
  );
  // Server CPU per request (µs): less sensitive than the rate to a server that could not get
  // its whole core (other work on the machine) or was not saturated.
  const cpuUs = (r) =>
    r.cpuPercent.server === null || r.requests === 0
      ? null
      : (((r.cpuPercent.server / 100) * r.elapsedSeconds) / r.requests) * 1e6;
  const wardenCpuUs = median(runs[scenario].map(cpuUs));
  const aceCpuUs = median(runs[peer].map(cpuUs));
  return {
    scenario,
    peer,
    wardenRps: w.rps,
    aceRps: a.rps,
    wardenVsBare: w.ratio,
    aceVsBare: a.ratio,
    ratio,
    perRound,
    wardenCpuUs,
    aceCpuUs,
    cpuRatio: wardenCpuUs && aceCpuUs ? aceCpuUs / wardenCpuUs : null,
    target,
    result:
      w.result === 'ERROR' || a.result === 'ERROR'
        ? 'ERROR'
        : ratio !== null && ratio >= target
          ? 'PASS'
          : 'MISS',
  };
}

/** Server CPU per request of a load run, in µs (null without the server's CPU figure). */
function cpuUsPerRequest(r) {
  return r.cpuPercent.server === null
    ? null
    : (((r.cpuPercent.server / 100) * r.elapsedSeconds) / r.requests) * 1e6;
}

/**
 * The audit's cost: the protected route with one access token, audit on and off, in pairs of runs
 * back to back (medians over the pairs), and one row's CPU measured alone. The rounds' own
 * access-token-seen and no-audit runs are reported beside them.
 */
async function auditCost(warden, runs, pairs) {
  const cpuCost = median(pairs.map((p) => p.cpuCost).filter((c) => c !== null));
  const throughputCost = median(pairs.map((p) => p.throughputCost));
  const cpuUsOn = median(pairs.map((p) => p.cpuUsOn).filter((c) => c !== null));
  const cpuUsOff = median(pairs.map((p) => p.cpuUsOff).filter((c) => c !== null));
  const rounds = {};
  for (const [key, scenario] of [
    ['on', 'access-token-seen'],
    ['off', 'access-token-seen-no-audit'],
  ]) {
    if (!runs[scenario] || runs[scenario].length === 0) continue;
    rounds[key] = {
      rps: median(runs[scenario].map((r) => r.rps)),
      cpuUs: median(runs[scenario].map(cpuUsPerRequest)),
    };
  }
  // Measured alone (no network, no noise from the other scenarios): the audit's CPU per row on
  // the embedded SQLite, against the request's CPU without audit measured above.
  const isolated = await runAuditCost('sqlite:');
  const cost =
    cpuUsOff && isolated ? isolated.cpuUsPerRow / (cpuUsOff + isolated.cpuUsPerRow) : null;
  return {
    pairs,
    cpuCost,
    throughputCost,
    cpuUsOn,
    cpuUsOff,
    rounds,
    isolated,
    cost,
    flushed: await metricValue(warden, 'warden_audit_rows_flushed_total'),
    dropped: await metricValue(warden, 'warden_audit_events_dropped_total'),
    target: AUDIT_COST_TARGET,
    // All must hold: the share of request CPU under load (the target's own measure), the
    // throughput lost with it (which also holds the audit's waits), and the row's CPU alone.
    result:
      cost !== null &&
      cpuCost !== null &&
      cost < AUDIT_COST_TARGET &&
      cpuCost < AUDIT_COST_TARGET &&
      throughputCost < AUDIT_COST_TARGET
        ? 'PASS'
        : 'MISS',
  };
}

/** bench/audit-cost.js on the server's core; its JSON, or null (said) when it failed. */
function runAuditCost(databaseUrl) {
  const logFile = path.join(tmpDir, 'audit-cost.log');
  const child = spawnChild(
    'audit-cost',
    plan.serverCpu,
    [path.join(__dirname, 'audit-cost.js'), databaseUrl],
    { logFile, stdout: 'pipe' },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => (out += chunk));
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      if (code === 0) return resolve(JSON.parse(out.trim().split('\n').pop()));
      log(`  audit-cost.js failed (${code}):\n${tail(logFile)}`);
      resolve(null);
    });
  });
}

/**
 * p99 of the protected route while the retention job deletes PURGE_ROWS rows, against its p99
 * just before, at the same fixed request rate (half of the measured capacity: latency under a
 * given load, not queueing at saturation). On a database of its own on PostgreSQL, with a Warden
 * of its own; skipped (and said) when PostgreSQL is not reachable.
 */
async function purgeBench() {
  const { Client } = require('pg');
  const admin = new Client({ connectionString: POSTGRES_URL });
  try {
    await admin.connect();
  } catch (err) {
    log(`Purge benchmark skipped: PostgreSQL at ${POSTGRES_URL} is not reachable (${err.message})`);
    return { skipped: `PostgreSQL not reachable: ${err.message}` };
  }
  const database = `warden_bench_${randomBytes(4).toString('hex')}`;
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  let warden = null;
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
    let purgeEnd = null;
    const purging = fetch(`${warden.base}/admin/audit/retention/run`, {
      method: 'POST',
      headers: { authorization: warden.basic },
      signal: AbortSignal.timeout(30 * 60 * 1000),
    }).then(async (res) => {
      purgeEnd = Date.now();
      return { status: res.status, body: await res.json() };
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
    const ratio = during.measured.latencyMs.p99 / before.measured.latencyMs.p99;
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
      result: errors > 0 ? 'ERROR' : ratio <= PURGE_P99_TARGET && covered ? 'PASS' : 'MISS',
    };
    log(
      `  p99 ${fmt(before.measured.latencyMs.p99, 2)} ms before, ` +
        `${fmt(during.measured.latencyMs.p99, 2)} ms while ${PURGE_ROWS} rows were purged ` +
        `(purge took ${fmt(result.purgeSeconds, 1)} s${covered ? '' : ', ending before the run did'}): ` +
        `ratio ${fmt(ratio, 2)} (target <= ${PURGE_P99_TARGET}) -> ${result.result}`,
    );
    return result;
  } finally {
    if (db) await db.end().catch(() => undefined);
    if (warden) await stopChild(warden.child);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

main()
  .catch((err) => {
    if (interrupted) return; // the signal handler reports and sets the exit code
    process.stderr.write(`Benchmark failed: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
