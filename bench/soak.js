// @ts-check
'use strict';
// The memory soak of docs/architecture.md#performance-targets ("memory flat under a 10-minute load:
// no growth beyond the caches' bounds"), run by bench/run.js when BENCH_SOAK_MINUTES is set (npm
// run bench:soak): Warden, set up as for the throughput runs, takes a mixed load for that many
// minutes from bench/soak-load.js, built so that every bounded cache keeps taking new keys and
// evicting (see there), while its memory is sampled every few seconds.
//
// Heap use goes up and down with each collection; what a leak moves is its floor, the lowest
// heap use seen in a minute. The caches fill during the first minutes (that growth is allowed:
// it stops at their bounds), so the verdict compares the last minute's floor with the floor of
// the middle minute: flat when it grew by no more than SOAK_HEAP_TOLERANCE. The resident set is
// reported beside it.

const fs = require('node:fs');
const path = require('node:path');

const SAMPLE_SECONDS = 1;
/** Growth of the heap floor from the middle minute to the last one that still counts as flat. */
const SOAK_HEAP_TOLERANCE = { share: 0.05, bytes: 8 * 1024 * 1024 };
/**
 * Warden's verified-token cache holds at most this many tokens (MAX_VERIFIED_TOKENS in
 * src/auth/authenticator.service.ts); the pool must be larger, so that it keeps evicting.
 */
const VERIFIED_TOKEN_CACHE_BOUND = 100_000;
const MiB = 1024 * 1024;

/**
 * What bench/run.js hands the soak: the Warden set up as for the throughput runs, and its tools.
 *
 * @typedef {object} SoakContext
 * @property {import('./lib/warden').Warden} warden
 * @property {import('./lib/minting').Minter} minter
 * @property {import('./lib/connect').Connect | null} connect
 * @property {string} connectPath
 * @property {import('./lib/children').Plan} plan
 * @property {typeof import('./lib/children').spawnChild} spawnChild
 * @property {typeof import('./lib/http').call} call
 * @property {(line: string) => void} log
 * @property {typeof import('./lib/children').tail} tail
 * @property {string} tmpDir
 * @property {string} resultsDir
 */

/** @typedef {{ seconds: number, heapUsed: number | null, rss: number | null }} Sample */

/** Resident set of a process, from /proc (Linux), in bytes; null elsewhere. */
function residentBytes(/** @type {number | undefined} */ pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** One sample: Warden's heap in use (its own /metrics) and resident set. */
/**
 * @param {SoakContext} ctx
 * @param {number} startedAt
 * @returns {Promise<Sample>}
 */
async function sample(ctx, startedAt) {
  const res = await ctx.call('GET', `${ctx.warden.base}/metrics`);
  const line = res.text
    .split('\n')
    .find((/** @type {string} */ l) => l.startsWith('warden_nodejs_heap_size_used_bytes '));
  return {
    seconds: Math.round((Date.now() - startedAt) / 100) / 10,
    heapUsed: line ? Number(line.split(' ')[1]) : null,
    rss: residentBytes(ctx.warden.child.pid),
  };
}

/** Per minute: samples taken, lowest and highest heap use, highest resident set. */
/**
 * @param {Sample[]} samples
 * @param {number} minutes
 */
function byMinute(samples, minutes) {
  return Array.from({ length: minutes }, (_, m) => {
    const inMinute = samples.filter((s) => s.seconds >= m * 60 && s.seconds < (m + 1) * 60);
    const heap = /** @type {number[]} */ (
      inMinute.map((s) => s.heapUsed).filter((v) => v !== null)
    );
    const rss = /** @type {number[]} */ (inMinute.map((s) => s.rss).filter((v) => v !== null));
    return {
      minute: m + 1,
      samples: inMinute.length,
      heapFloor: heap.length ? Math.min(...heap) : null,
      heapPeak: heap.length ? Math.max(...heap) : null,
      rssPeak: rss.length ? Math.max(...rss) : null,
    };
  });
}

/** The soak's load generator, its progress lines passed on as they come. */
/**
 * @param {SoakContext} ctx
 * @param {Record<string, unknown>} spec bench/soak-load.js's
 * @returns {Promise<any>} its result line
 */
function startLoad(ctx, spec) {
  const specFile = path.join(ctx.tmpDir, 'soak-spec.json');
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const logFile = path.join(ctx.tmpDir, 'soak-load.log');
  const child = ctx.spawnChild(
    'soak-load',
    ctx.plan.loadCpu,
    [path.join(__dirname, 'soak-load.js'), specFile],
    { logFile, stdin: 'pipe', stdout: 'pipe' },
  );
  let pending = '';
  /** @type {any} */
  let result = null;
  const stdout = /** @type {import('node:stream').Readable} */ (child.stdout);
  stdout.setEncoding('utf8');
  stdout.on('data', (/** @type {string} */ chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const message = JSON.parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (message.result) result = message.result;
      else if (message.progress)
        ctx.log(
          `  ${message.progress.seconds.toFixed(0)} s: ${message.progress.requests} requests answered`,
        );
    }
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      if (code !== 0 || !result)
        return reject(
          new Error(`soak load generator failed (${code ?? signal}):\n${ctx.tail(logFile)}`),
        );
      resolve(result);
    });
  });
}

/** The statuses each kind may answer; anything else fails the soak. */
/** @type {Record<string, string[]>} */
const EXPECTED = {
  whoami: ['200'],
  decision: ['200'],
  public: ['200'],
  connect: ['200'],
  garbage: ['401'],
};

/**
 * @param {SoakContext} ctx
 * @param {{ minutes: number, tokens: number, connections: number }} soak
 */
async function runSoak(ctx, { minutes, tokens: tokenCount, connections }) {
  ctx.log(
    `Soak: ${minutes} min of mixed load (${connections} connections); minting a pool of ` +
      `${tokenCount} access tokens (the verified-token cache holds at most ` +
      `${VERIFIED_TOKEN_CACHE_BOUND})…`,
  );
  if (tokenCount <= VERIFIED_TOKEN_CACHE_BOUND)
    ctx.log(
      `  WARNING: BENCH_SOAK_TOKENS ${tokenCount} does not exceed the cache's bound: the ` +
        `verified-token cache will not be driven to evict`,
    );
  const t0 = Date.now();
  const minted = await ctx.minter.mint(tokenCount);
  const tokensFile = path.join(ctx.tmpDir, 'soak-tokens.txt');
  fs.writeFileSync(tokensFile, minted.tokens.join('\n') + '\n');
  ctx.log(`  minted ${minted.tokens.length} tokens in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const connect = ctx.connect
    ? {
        clientKey: ctx.connect.tenant.clientKey,
        sharedSecret: ctx.connect.tenant.sharedSecret,
        accountId: ctx.connect.tenant.accountId,
        path: ctx.connectPath,
      }
    : null;
  const startedAt = Date.now();
  /** @type {Sample[]} */
  const samples = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await sample(ctx, startedAt));
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_SECONDS * 1000));
    }
  })();
  let load;
  try {
    load = await startLoad(ctx, {
      base: ctx.warden.base,
      connections,
      seconds: minutes * 60,
      tokensFile,
      connect,
      progressSeconds: 60,
    });
  } finally {
    sampling = false;
    await sampler;
  }

  const minutesTable = byMinute(samples, minutes);
  const middle = minutesTable[Math.max(0, Math.ceil(minutes / 2) - 1)];
  const last = minutesTable[minutes - 1];
  const allowed = Math.max(
    SOAK_HEAP_TOLERANCE.bytes,
    (middle.heapFloor || 0) * SOAK_HEAP_TOLERANCE.share,
  );
  const growth =
    middle.heapFloor !== null && last.heapFloor !== null ? last.heapFloor - middle.heapFloor : null;
  const wrong = [];
  for (const [kind, byStatus] of Object.entries(load.statuses)) {
    for (const [status, count] of Object.entries(/** @type {Record<string, number>} */ (byStatus)))
      if (!EXPECTED[kind].includes(status)) wrong.push(`${kind}: ${count} × ${status}`);
  }
  const result =
    wrong.length > 0 || load.errors > 0 || growth === null
      ? 'ERROR'
      : growth <= allowed
        ? 'PASS'
        : 'MISS';

  ctx.log('');
  ctx.log('minute  samples  heap floor MiB  heap peak MiB  RSS peak MiB');
  for (const m of minutesTable) {
    const f = (/** @type {number | null} */ v) => (v === null ? '-' : (v / MiB).toFixed(1));
    ctx.log(
      `${String(m.minute).padStart(6)}  ${String(m.samples).padStart(7)}  ` +
        `${f(m.heapFloor).padStart(14)}  ${f(m.heapPeak).padStart(13)}  ${f(m.rssPeak).padStart(12)}`,
    );
  }
  ctx.log('');
  ctx.log(
    `Soak: ${load.requests} requests in ${load.seconds} s (${load.rps} req/s), statuses ` +
      `${JSON.stringify(load.statuses)}, ${load.errors} errors. Heap floor minute ` +
      `${middle.minute} ${((middle.heapFloor ?? 0) / MiB).toFixed(1)} MiB, minute ${last.minute} ` +
      `${((last.heapFloor ?? 0) / MiB).toFixed(1)} MiB: ${(growth ?? 0) >= 0 ? '+' : ''}` +
      `${((growth ?? 0) / MiB).toFixed(1)} MiB (allowed ${(allowed / MiB).toFixed(1)} MiB) -> ${result}` +
      (wrong.length ? `; unexpected answers: ${wrong.join(', ')}` : ''),
  );
  const report = {
    startedAt: new Date(startedAt).toISOString(),
    minutes,
    connections,
    tokensInPool: minted.tokens.length,
    verifiedTokenCacheBound: VERIFIED_TOKEN_CACHE_BOUND,
    sampleSeconds: SAMPLE_SECONDS,
    tolerance: SOAK_HEAP_TOLERANCE,
    load,
    byMinute: minutesTable,
    heapFloorGrowthBytes: growth,
    allowedGrowthBytes: allowed,
    result,
    samples,
  };
  fs.mkdirSync(ctx.resultsDir, { recursive: true });
  const out = path.join(ctx.resultsDir, 'soak.json');
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  ctx.log(`Soak results written to ${path.relative(process.cwd(), out) || out}`);
  return report;
}

module.exports = { runSoak };
