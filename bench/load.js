// @ts-check
'use strict';
// Load generator, run by bench/run.js in its own process (pinned to its own core).
// Usage: node bench/load.js <spec.json>
// Runs an optional warm-up (discarded), then the measured run, and prints one line of JSON
// with the measured figures on stdout. Progress and problems go to stderr.
//
// spec: {
//   url: 'http://127.0.0.1:PORT/system/whoami',   // or …/authz/decision
//   connections, pipelining, duration (s), warmup (s), timeout (s),
//   headers: { ... },                  // fixed headers (the one access token, X-Original-*…)
//   tokensFile: '/tmp/…/tokens.txt',   // optional: one token per line, each used once
//   warmupTokens: N,                   // how many of those tokens the warm-up may spend
//   tokenScheme: 'JWT',                // optional: Authorization scheme for them (Bearer)
//   serverPid: 1234,                   // optional: report the server's CPU use (Linux /proc)
//   overallRate: 2000                  // optional: requests per second from all connections
// }
// With tokensFile, every request carries a different `Authorization: <scheme> <token>` (Bearer
// unless tokenScheme says otherwise: Atlassian Connect sends `JWT <token>`); a run
// stops after `duration` seconds or when its tokens are spent, whichever comes first: a token
// is never sent twice.

const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const autocannon = require('autocannon');

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// If the orchestrator dies, our stdin pipe closes: do not linger.
process.stdin.on('end', () => process.exit(2));
process.stdin.on('error', () => process.exit(2));
process.stdin.resume();

const tokenScheme = spec.tokenScheme || 'Bearer';
/** @type {string[] | null} */
let tokens = null;
if (spec.tokensFile) {
  tokens = readFileSync(spec.tokensFile, 'utf8').split('\n').filter(Boolean);
  if (new Set(tokens).size !== tokens.length) fail('tokens file holds duplicates');
}

/** @param {string} message */
function fail(message) {
  process.stderr.write(`load.js: ${message}\n`);
  process.exit(1);
}

/**
 * One autocannon run; `pool` is the slice of tokens it may spend (each once), or null.
 *
 * @param {number} seconds
 * @param {string[] | null} pool
 * @returns {Promise<Record<string, unknown>>} the figures of bench/lib/runs.js's Measured
 */
function runOnce(seconds, pool) {
  return new Promise((resolve, reject) => {
    /** @type {Record<string, any>} autocannon's options */
    const opts = {
      url: spec.url,
      connections: spec.connections,
      pipelining: spec.pipelining,
      timeout: spec.timeout || 10,
      headers: spec.headers || {},
    };
    // A fixed request rate (latency at a given load rather than at saturation).
    if (spec.overallRate) opts.overallRate = spec.overallRate;
    if (!pool) opts.duration = seconds;
    // Own accounting: exact latencies (autocannon's histogram has 1 ms resolution) and a rate
    // over the time actually spent, also when a run ends because its tokens are spent.
    let latencies = new Float64Array(1 << 16);
    let count = 0;
    let lastAt = 0;
    // Set once every autocannon instance exists (below): building them, with a token pool tens
    // of thousands of prebuilt requests, takes a while and is no part of the run.
    let startedAt = performance.now();
    let cpuAtStart = process.cpuUsage();
    let serverAtStart = serverCpuSeconds();
    // CPU use is read when the last token is answered, or else when autocannon reports
    // (which it does on its next 1 s tick, idle time the CPU shares should not include).
    /** @type {{ at: number, own: NodeJS.CpuUsage, server: number | null } | null} */
    let cpuEnd = null;
    const readCpu = () => {
      if (!cpuEnd)
        cpuEnd = {
          at: performance.now(),
          own: process.cpuUsage(cpuAtStart),
          server: serverCpuSeconds(),
        };
    };
    /**
     * @param {unknown} err
     * @param {any} [result]
     */
    const finish = (err, result) => {
      clearTimeout(timer);
      if (err) return reject(err);
      const elapsed = (lastAt - startedAt) / 1000;
      readCpu();
      if (!cpuEnd) throw new Error('no CPU reading');
      const wall = (cpuEnd.at - startedAt) / 1000;
      const own = cpuEnd.own;
      const serverAtEnd = cpuEnd.server;
      const sorted = latencies.subarray(0, count).sort();
      const pct = (/** @type {number} */ p) =>
        count ? sorted[Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1))] : null;
      resolve({
        requests: count,
        elapsedSeconds: round(elapsed, 3),
        rps: elapsed > 0 ? round(count / elapsed, 1) : 0,
        latencyMs: {
          p50: round(pct(50), 3),
          p90: round(pct(90), 3),
          p99: round(pct(99), 3),
          max: round(pct(100), 3),
          mean: count ? round(sorted.reduce((a, b) => a + b, 0) / count, 3) : null,
        },
        // Share of one CPU used over the run: a server well below 100 % was not the bottleneck.
        cpuPercent: {
          server:
            serverAtStart === null || serverAtEnd === null
              ? null
              : round(((serverAtEnd - serverAtStart) / wall) * 100, 1),
          loadGenerator: round(((own.user + own.system) / 1e6 / wall) * 100, 1),
        },
        // Building the autocannon instances (prebuilt requests), before the clock started.
        setupSeconds: round(setupMs / 1000, 3),
        tokensAvailable: pool ? pool.length : null,
        tokensUsed: pool ? Math.min(count, pool.length) : null,
        tokensExhausted: pool ? count >= pool.length : false,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        statusCodeStats: result.statusCodeStats,
        autocannon: {
          instances: result.instances,
          duration: result.duration,
          requestsMean: result.requestsMean,
          totalCompletedRequests: result.totalCompletedRequests,
        },
      });
    };
    const onResponse = (
      /** @type {unknown} */ _client,
      /** @type {number} */ _status,
      /** @type {number} */ _bytes,
      /** @type {number} */ responseTime,
    ) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTime;
      lastAt = performance.now();
      if (pool && count === pool.length) readCpu();
    };

    // A token pool is spread over one single-connection autocannon instance per connection,
    // each with its slice of tokens as prebuilt requests: every token is sent exactly once, and
    // no per-request setupRequest callback slows the load generator down (it would otherwise,
    // not the server, set the pace of this scenario).
    const plans = pool
      ? Array.from({ length: spec.connections }, (_, c) =>
          pool.filter((_t, /** @type {number} */ i) => i % spec.connections === c),
        ).map((slice) => ({
          ...opts,
          connections: 1,
          amount: slice.length,
          requests: slice.map((token) => ({
            method: 'GET',
            headers: { ...(spec.headers || {}), authorization: `${tokenScheme} ${token}` },
          })),
        }))
      : [opts];
    /** @type {any[]} autocannon instances */
    const instances = [];
    /** @type {any[]} their results */
    const results = [];
    let pending = plans.length;
    for (const plan of plans) {
      const instance = autocannon(plan, (/** @type {unknown} */ err, /** @type {any} */ result) => {
        if (err) return finish(err);
        results.push(result);
        if (--pending > 0) return;
        const sum = (/** @type {(r: any) => number} */ f) =>
          results.reduce((a, r) => a + (f(r) || 0), 0);
        /** @type {Record<string, { count: number }>} */
        const statusCodeStats = {};
        for (const r of results)
          for (const [code, v] of Object.entries(
            /** @type {Record<string, { count: number }>} */ (r.statusCodeStats || {}),
          ))
            statusCodeStats[code] = { count: (statusCodeStats[code]?.count || 0) + v.count };
        finish(null, {
          instances: results.length,
          non2xx: sum((r) => r.non2xx),
          errors: sum((r) => r.errors),
          timeouts: sum((r) => r.timeouts),
          statusCodeStats,
          duration: Math.max(...results.map((r) => r.duration)),
          requestsMean: sum((r) => r.requests.mean),
          totalCompletedRequests: sum((r) => r.totalCompletedRequests),
        });
      });
      instance.on('response', onResponse);
      instances.push(instance);
    }
    // Instances are built synchronously and send nothing before this function returns.
    const setupMs = performance.now() - startedAt;
    startedAt = performance.now();
    cpuAtStart = process.cpuUsage();
    serverAtStart = serverCpuSeconds();
    if (setupMs > 100) process.stderr.write(`load.js: set-up took ${setupMs.toFixed(0)} ms\n`);
    // With a token pool autocannon ignores `duration`: stop it ourselves.
    const timer = pool
      ? setTimeout(() => instances.forEach((i) => i.stop()), seconds * 1000)
      : undefined;
  });
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) used so far by the server under test; null where unknown. */
function serverCpuSeconds() {
  if (!spec.serverPid) return null;
  try {
    const stat = readFileSync(`/proc/${spec.serverPid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
  } catch {
    return null;
  }
}

/**
 * @param {number | null | undefined} x
 * @param {number} digits
 */
function round(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function main() {
  const warmupTokens = tokens ? Math.min(spec.warmupTokens || 0, tokens.length) : 0;
  let warmup = null;
  if (spec.warmup > 0 && (!tokens || warmupTokens >= spec.connections)) {
    warmup = await runOnce(spec.warmup, tokens ? tokens.slice(0, warmupTokens) : null);
  }
  const measured = await runOnce(spec.duration, tokens ? tokens.slice(warmupTokens) : null);
  process.stdout.write(JSON.stringify({ warmup, measured }) + '\n');
  process.exit(0);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
