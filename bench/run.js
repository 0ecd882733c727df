'use strict';
// Warden's throughput benchmark: GET /system/whoami with an access token, against a bare
// Fastify server answering the same route. See bench/README.md.
//
//   node scripts/ensure-build.js && node bench/run.js      (npm run bench)
//
// Everything runs on 127.0.0.1, in child processes that this script starts and always stops:
// Warden (node dist/main.js, fresh data directory), the bare Fastify server, and the load
// generator (bench/load.js, autocannon). With taskset, the server under test gets one core
// and the load generator another.

const { spawn, spawnSync, execSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const RESULTS_DIR = path.join(__dirname, 'results');
const WARMUP_SECONDS = 2;
const TARGETS = { 'access-token-seen': 0.5, 'access-token-new': 0.25 };
const SCENARIOS = ['bare', 'access-token-seen', 'access-token-new'];

const config = {
  duration: intEnv('BENCH_DURATION', 10, 1),
  rounds: intEnv('BENCH_ROUNDS', 3, 1),
  connections: intEnv('BENCH_CONNECTIONS', 50, 1),
  pipelining: 1,
  warmupSeconds: WARMUP_SECONDS,
  // Upper bound on fresh tokens minted for one measured `access-token-new` run.
  maxTokens: intEnv('BENCH_MAX_TOKENS', 20000, 100),
  // Parallel refresh chains (one login each) used to mint those tokens.
  mintChains: intEnv('BENCH_MINT_CHAINS', 8, 1),
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
    cleaningUp = Promise.all([...children].map((c) => stopChild(c))).then(() => {
      killAllSync();
      removeTmpSync();
    });
  }
  return cleaningUp;
}

process.on('exit', () => {
  killAllSync();
  removeTmpSync();
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

function spawnChild(name, cpu, args, { env, logFile, stdin = 'ignore', stdout } = {}) {
  const logFd = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const command = plan.pinned ? 'taskset' : process.execPath;
  const argv = plan.pinned ? ['-c', String(cpu), process.execPath, ...args] : args;
  const child = spawn(command, argv, {
    cwd: ROOT,
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

function tokenExpiry(token) {
  const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  return payload.exp * 1000;
}

// ---------------------------------------------------------------------------------------------
// Warden, the bare server, tokens

let plan;

async function startWarden() {
  const dataDir = path.join(tmpDir, 'data');
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
    DATABASE_URL: `sqlite:${path.join(dataDir, 'warden.sqlite')}`,
    WARDEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    WARDEN_ADMIN_USERNAME: 'admin',
    WARDEN_ADMIN_PASSWORD: password,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  });
  const logFile = path.join(tmpDir, 'warden.log');
  const child = spawnChild('warden', plan.serverCpu, [path.join(ROOT, 'dist', 'main.js')], {
    env,
    logFile,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/health/live`, 200, child, logFile);
  return {
    child,
    base,
    logFile,
    basic: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
  };
}

async function startBare(whoamiBody) {
  const port = await freePort();
  const logFile = path.join(tmpDir, 'bare.log');
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  delete env.NODE_OPTIONS;
  env.BARE_WHOAMI = whoamiBody;
  env.BARE_EXIT_ON_STDIN_END = '1';
  const child = spawnChild(
    'bare-fastify',
    plan.serverCpu,
    [path.join(__dirname, 'bare-fastify.js')],
    {
      env,
      logFile,
      stdin: 'pipe',
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/system/whoami`, 200, child, logFile);
  return { child, base, logFile };
}

/**
 * Mints never-seen access tokens by rotating refresh tokens: each GET /system/reauth answers a
 * new access token and the next refresh token. Several chains (one login each) run in parallel.
 */
class Minter {
  constructor(warden, chains) {
    this.warden = warden;
    this.size = chains;
    this.chains = [];
  }

  async login() {
    return getJson(`${this.warden.base}/system/auth`, this.warden.basic);
  }

  async mint(count) {
    while (this.chains.length < this.size) {
      const logins = await Promise.all(
        Array.from({ length: this.size - this.chains.length }, () => this.login()),
      );
      for (const pair of logins) this.chains.push({ refresh: pair.refresh });
    }
    const tokens = [];
    let remaining = count;
    let failure = null;
    await Promise.all(
      this.chains.map(async (chain) => {
        while (remaining > 0 && !failure) {
          remaining--;
          try {
            const pair = await getJson(
              `${this.warden.base}/system/reauth`,
              `Bearer ${chain.refresh}`,
            );
            if (!pair.authentication || !pair.refresh)
              throw new Error(`reauth answered no token pair: ${JSON.stringify(pair)}`);
            tokens.push(pair.authentication);
            chain.refresh = pair.refresh;
          } catch (err) {
            failure = failure || err;
          }
        }
      }),
    );
    if (failure) throw failure;
    if (new Set(tokens).size !== tokens.length) throw new Error('reauth handed out a token twice');
    return tokens;
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

function printTable(rows) {
  const header = ['scenario', 'req/s (median)', 'p50 ms', 'p99 ms', 'vs bare', 'target', 'result'];
  const body = rows.map((r) => [
    r.scenario,
    fmt(r.rps),
    fmt(r.p50Ms, 2),
    fmt(r.p99Ms, 2),
    fmt(r.ratio, 3),
    r.target === null ? '-' : `>= ${r.target.toFixed(2)}`,
    r.result,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 || i === 6 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
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

  const warden = await startWarden();
  log(`Warden is up on ${warden.base}`);
  const first = await getJson(`${warden.base}/system/auth`, warden.basic);
  let seenToken = first.authentication;
  const whoamiRes = await fetch(`${warden.base}/system/whoami`, {
    headers: { authorization: `Bearer ${seenToken}` },
  });
  const whoamiBody = await whoamiRes.text();
  if (whoamiRes.status !== 200)
    throw new Error(`Warden GET /system/whoami answered ${whoamiRes.status}: ${whoamiBody}`);
  const bare = await startBare(whoamiBody);
  log(`Bare Fastify is up on ${bare.base}; both answer ${whoamiBody}`);

  const minter = new Minter(warden, config.mintChains);
  const url = (server) => `${server.base}/system/whoami`;
  const common = {
    connections: config.connections,
    pipelining: config.pipelining,
    duration: config.duration,
    warmup: WARMUP_SECONDS,
  };
  const runs = Object.fromEntries(SCENARIOS.map((s) => [s, []]));
  const problems = [];
  const mints = [];

  const ensureSeenToken = async () => {
    // Same token for a whole run; replaced (between runs) only if it would expire mid-run.
    if (tokenExpiry(seenToken) - Date.now() < (WARMUP_SECONDS + config.duration + 60) * 1000) {
      seenToken = (await minter.mint(1))[0];
    }
  };

  const mintFor = async (estimateRps) => {
    const measured = Math.min(
      config.maxTokens,
      Math.max(config.connections * 10, Math.ceil(estimateRps * config.duration * 1.15)),
    );
    const warm = Math.min(
      // The warm-up only has to warm the verification path: a quarter of the cap is plenty.
      Math.max(config.connections * 4, Math.ceil(config.maxTokens / 4)),
      Math.max(config.connections * 2, Math.ceil(estimateRps * WARMUP_SECONDS * 1.15)),
    );
    const t0 = Date.now();
    const tokens = await minter.mint(warm + measured);
    const seconds = (Date.now() - t0) / 1000;
    mints.push({ tokens: tokens.length, seconds, perSecond: tokens.length / seconds });
    log(
      `  minted ${tokens.length} fresh access tokens (${warm} for the warm-up) in ` +
        `${seconds.toFixed(1)} s (${(tokens.length / seconds).toFixed(0)}/s) via GET /system/reauth`,
    );
    return { tokens, warm, mintedAt: Date.now() };
  };

  // Calibration: a short run with the one token, to size the first batch of fresh tokens.
  log(`Calibrating with the one token (${2 * WARMUP_SECONDS} s, discarded)…`);
  await ensureSeenToken();
  const calibration = await runLoad({
    ...common,
    url: url(warden),
    headers: { authorization: `Bearer ${seenToken}` },
    duration: WARMUP_SECONDS,
  });
  let newEstimate = calibration.measured.rps;

  for (let round = 1; round <= config.rounds; round++) {
    log(`Round ${round}/${config.rounds}`);
    let batch = await mintFor(newEstimate);

    for (const scenario of SCENARIOS) {
      let spec;
      if (scenario === 'bare') {
        spec = { ...common, url: url(bare) };
      } else if (scenario === 'access-token-seen') {
        await ensureSeenToken();
        spec = { ...common, url: url(warden), headers: { authorization: `Bearer ${seenToken}` } };
      } else {
        // Tokens minted at the start of the round must outlive the run; else mint again.
        const runEnds = Date.now() + (WARMUP_SECONDS + config.duration + 30) * 1000;
        if (tokenExpiry(batch.tokens[0]) < runEnds) batch = await mintFor(newEstimate);
        const tokensFile = path.join(tmpDir, `tokens-${round}.txt`);
        fs.writeFileSync(tokensFile, batch.tokens.join('\n') + '\n');
        spec = { ...common, url: url(warden), tokensFile, warmupTokens: batch.warm };
      }
      spec.serverPid = (scenario === 'bare' ? bare : warden).child.pid;
      const result = await runLoad(spec);
      checkServerAlive(warden, 'Warden');
      checkServerAlive(bare, 'bare Fastify');
      const m = result.measured;
      runs[scenario].push({ round, ...m, warmup: result.warmup });
      let note = '';
      if (m.tokensExhausted)
        note = `  (tokens ran out: ${m.tokensAvailable} requests in ${m.elapsedSeconds} s)`;
      log(
        `  ${scenario.padEnd(18)} ${fmt(m.rps).padStart(7)} req/s  p50 ${fmt(m.latencyMs.p50, 2)} ms` +
          `  p99 ${fmt(m.latencyMs.p99, 2)} ms  ${m.requests} requests` +
          `  CPU server ${fmt(m.cpuPercent.server)}% / load ${fmt(m.cpuPercent.loadGenerator)}%${note}`,
      );
      for (const [phase, r] of [
        ['warm-up', result.warmup],
        ['measured run', m],
      ]) {
        if (!r) continue;
        if (r.non2xx > 0 || r.errors > 0) {
          const message =
            `${scenario} round ${round} ${phase}: ${r.non2xx} non-2xx responses, ${r.errors} errors ` +
            `(${r.timeouts} timeouts); status codes ${JSON.stringify(r.statusCodeStats)}`;
          problems.push(message);
          log(`  ERROR: ${message}`);
        }
      }
      if (scenario === 'access-token-new') newEstimate = m.rps;
    }
  }

  // Summary
  const bareRps = median(runs.bare.map((r) => r.rps));
  const summary = SCENARIOS.map((scenario) => {
    const rps = median(runs[scenario].map((r) => r.rps));
    const ratio = bareRps ? rps / bareRps : null;
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
      ratio,
      target,
      result: failed ? 'ERROR' : target === null ? '-' : ratio >= target ? 'PASS' : 'MISS',
    };
  });

  log(
    `Medians over ${config.rounds} round(s); ratios are against bare Fastify measured in this same run.`,
  );
  printTable(summary);
  if (problems.length > 0) {
    log(`ERROR: ${problems.length} run(s) had non-2xx responses or errors (see above):`);
    for (const p of problems) log(`  - ${p}`);
    const wardenLog = tail(warden.logFile, 15);
    if (wardenLog) log(`Warden's last output:\n${wardenLog}`);
    process.exitCode = 1;
  }

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const gitignore = path.join(RESULTS_DIR, '.gitignore');
  if (!fs.existsSync(gitignore)) fs.writeFileSync(gitignore, '*\n!.gitignore\n');
  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    config: { ...config, targets: TARGETS },
    environment: {
      node: process.version,
      fastify: require('fastify/package.json').version,
      autocannon: require('autocannon/package.json').version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0] && os.cpus()[0].model,
      pinning: plan,
    },
    whoamiBody,
    calibration: calibration.measured,
    mints,
    summary,
    runs,
    problems,
    ok: problems.length === 0,
  };
  const out = path.join(RESULTS_DIR, 'latest.json');
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  log(`Results written to ${path.relative(process.cwd(), out) || out}`);
}

main()
  .catch((err) => {
    if (interrupted) return; // the signal handler reports and sets the exit code
    process.stderr.write(`Benchmark failed: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
