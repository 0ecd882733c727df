// @ts-check
'use strict';
// Calibration, every run discarded: for each scenario with a seen token a short run (which also
// warms its route up), for each never-seen-token scenario a short run on fresh tokens, whose rate
// sizes that scenario's tokens in the rounds. The first half of those tokens only warms the path
// up (measured cold, the rate comes out far too low).

const fs = require('node:fs');
const { WARMUP_SECONDS, config } = require('./config');
const { log, tmpPath } = require('./children');
const { runLoad, runScenario } = require('./runs');
const { specFor } = require('./rounds');
const { fmt } = require('./report');
const { SCENARIO_SPECS, SCENARIOS, FRESH_SCENARIOS, CONNECT_SCENARIOS } = require('./scenarios');

/**
 * Calibrates every scenario that needs it; sets the token files' estimates and answers each
 * calibrated scenario's figures.
 *
 * @param {import('./setup').Bench} bench
 * @param {import('./setup').Servers} servers
 * @param {import('./runs').Problems} problems
 */
async function calibrate(bench, servers, problems) {
  const { files } = bench;
  /** @type {Record<string, import('./runs').Measured>} */
  const calibrations = {};
  const calibrationCount = Math.min(config.maxTokens, config.connections * 300);
  /**
   * @param {string} scenario
   * @param {import('./runs').LoadResult} result
   */
  const record = (scenario, result) => {
    problems.check(`calibration (${scenario})`, result);
    calibrations[scenario] = result.measured;
  };
  /** @param {string} scenario */
  const recordEstimate = (scenario, /** @type {import('./runs').LoadResult} */ result) => {
    record(scenario, result);
    files.estimates[scenario] = result.measured.rps;
    log(
      `  ${scenario}: ${fmt(result.measured.rps)} req/s ` +
        `(${result.measured.requests} in ${result.measured.elapsedSeconds} s)`,
    );
  };

  for (const scenario of SCENARIOS.filter((s) => SCENARIO_SPECS[s].credential === 'seen')) {
    log(`Calibrating ${scenario} with its one token (${2 * WARMUP_SECONDS} s, discarded)…`);
    await bench.seen.ensure(scenario);
    const result = await runScenario(bench.warden, scenario, {
      ...specFor(bench, servers, scenario),
      duration: WARMUP_SECONDS,
    });
    record(scenario, result);
    log(`  ${scenario}: ${fmt(result.measured.rps)} req/s`);
  }

  for (const scenario of FRESH_SCENARIOS) {
    const from = bench.credentialsOf(scenario).minter;
    const cal = await files.mintTokens(calibrationCount, from);
    files.recordMint(`calibration of ${scenario}`, [], cal.tokens.length, cal.seconds, true, from);
    const file = tmpPath(`tokens-calibration-${scenario}.txt`);
    fs.writeFileSync(file, cal.tokens.join('\n') + '\n');
    log(
      `Calibrating ${scenario} with ${cal.tokens.length} fresh tokens (half of them to warm up; ` +
        `at most ${2 * WARMUP_SECONDS} s, discarded)…`,
    );
    const result = await runLoad({
      ...specFor(bench, servers, scenario, { file, warm: Math.floor(cal.tokens.length / 2) }),
      duration: WARMUP_SECONDS,
    });
    fs.rmSync(file, { force: true });
    recordEstimate(scenario, result);
  }

  for (const scenario of CONNECT_SCENARIOS) {
    const half = Math.floor(calibrationCount / 2);
    const batch = files.mintConnectBatch(scenario, 'calibration', {
      warm: half,
      measured: calibrationCount - half,
    });
    log(
      `Calibrating ${scenario} with ${batch.count} fresh Connect tokens (half of them to warm ` +
        `up; at most ${2 * WARMUP_SECONDS} s, discarded)…`,
    );
    const result = await runLoad({
      ...specFor(bench, servers, scenario, batch),
      duration: WARMUP_SECONDS,
    });
    fs.rmSync(batch.file, { force: true });
    recordEstimate(scenario, result);
  }
  return calibrations;
}

module.exports = { calibrate };
