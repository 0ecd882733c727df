// @ts-check
'use strict';
// Load runs: bench/load.js (autocannon) in its own process on the load generator's core, one
// per scenario and round, with the scenario's credentials; failed requests recorded as problems.

const fs = require('node:fs');
const path = require('node:path');
const { BENCH_DIR, WARMUP_SECONDS, config } = require('./config');
const { run, log, tmpPath, spawnChild, lastJsonLine, tail } = require('./children');
const { setAudit } = require('./warden-settings');
const { SCENARIO_SPECS } = require('./scenarios');

/**
 * What bench/load.js is asked to do (see there).
 *
 * @typedef {object} LoadSpec
 * @property {string} url
 * @property {number} connections
 * @property {number} pipelining
 * @property {number} duration seconds
 * @property {number} [warmup] seconds
 * @property {Record<string, string>} [headers]
 * @property {string} [tokensFile]
 * @property {number} [warmupTokens]
 * @property {string} [tokenScheme]
 * @property {number} [serverPid]
 * @property {number} [overallRate]
 */

/**
 * The figures of one phase of a load run, as bench/load.js prints them.
 *
 * @typedef {object} Measured
 * @property {number} requests
 * @property {number} elapsedSeconds
 * @property {number} rps
 * @property {{ p50: number | null, p90: number | null, p99: number | null, max: number | null,
 *   mean: number | null }} latencyMs
 * @property {{ server: number | null, loadGenerator: number }} cpuPercent
 * @property {number | null} tokensAvailable
 * @property {boolean} tokensExhausted
 * @property {number} non2xx
 * @property {number} errors
 * @property {number} timeouts
 * @property {Record<string, { count: number }>} statusCodeStats
 */

/** @typedef {{ warmup: Measured | null, measured: Measured }} LoadResult */

/** @typedef {Measured & { round: number, warmup: Measured | null }} RoundRun */

let specCounter = 0;

/**
 * Runs bench/load.js (warm-up, then measured run) in its own process; answers its JSON.
 *
 * @param {LoadSpec} spec
 * @returns {Promise<LoadResult>}
 */
async function runLoad(spec) {
  const specFile = tmpPath(`spec-${++specCounter}.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const logFile = tmpPath(`load-${specCounter}.log`);
  const child = spawnChild('load', run.plan.loadCpu, [path.join(BENCH_DIR, 'load.js'), specFile], {
    logFile,
    stdin: 'pipe',
    stdout: 'pipe',
  });
  const limitMs = ((spec.warmup || 0) + spec.duration + 60) * 1000;
  const { code, signal, json, error } = await lastJsonLine(child, limitMs).catch(() => {
    throw new Error(`load generator did not finish within ${limitMs / 1000} s`);
  });
  if (code !== 0) throw new Error(`load generator failed (${code ?? signal}):\n${tail(logFile)}`);
  if (error || !json)
    throw new Error(
      `load generator printed no result: ${error && error.message}\n${tail(logFile)}`,
    );
  return json;
}

/**
 * One load run of a scenario; a scenario without audit has it switched off for its run only.
 *
 * @param {import('./warden').Warden} warden
 * @param {string} scenario
 * @param {LoadSpec} spec
 */
async function runScenario(warden, scenario, spec) {
  const auditOff = SCENARIO_SPECS[scenario].audit === false;
  if (auditOff) await setAudit(warden, false);
  try {
    return await runLoad(spec);
  } finally {
    if (auditOff) await setAudit(warden, true);
  }
}

/** Non-2xx responses and errors of the run's load runs, said as they happen. */
class Problems {
  constructor() {
    /** @type {string[]} */
    this.list = [];
  }

  /**
   * Records non-2xx responses and errors of a load run (every phase).
   *
   * @param {string} label
   * @param {LoadResult} result
   */
  check(label, result) {
    for (const [phase, r] of /** @type {const} */ ([
      ['warm-up', result.warmup],
      ['measured run', result.measured],
    ])) {
      if (!r) continue;
      if (r.non2xx > 0 || r.errors > 0) {
        const message =
          `${label} ${phase}: ${r.non2xx} non-2xx responses, ${r.errors} errors ` +
          `(${r.timeouts} timeouts); status codes ${JSON.stringify(r.statusCodeStats)}`;
        this.list.push(message);
        log(`  ERROR: ${message}`);
      }
    }
  }
}

/** The load spec's parts every scenario shares. */
function commonSpec() {
  return {
    connections: config.connections,
    pipelining: config.pipelining,
    duration: config.duration,
    warmup: WARMUP_SECONDS,
  };
}

module.exports = { runLoad, runScenario, Problems, commonSpec };
