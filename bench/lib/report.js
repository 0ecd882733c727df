// @ts-check
'use strict';
// The figures: medians over the rounds, ratios to the bare runs, p99, server CPU per request,
// the targets' verdicts; the printed table and lines, and bench/results/latest.json.

const fs = require('node:fs');
const path = require('node:path');
const { RESULTS_DIR, config } = require('./config');
const { log, tail } = require('./children');
const {
  BASELINES,
  TARGETS,
  CONNECT_VS_ACE,
  HEADERS_REFERENCE,
  FLOOR_REFERENCE,
  SCENARIOS,
  usesTokenFile,
} = require('./scenarios');

/** @typedef {import('./runs').Measured} Measured */
/** @typedef {import('./runs').RoundRun} RoundRun */

/**
 * The median of the numbers among `values`; null when there are none.
 *
 * @param {Array<number | null | undefined>} values
 * @returns {number | null}
 */
const median = (values) => {
  const v = /** @type {number[]} */ (values.filter((x) => typeof x === 'number')).sort(
    (a, b) => a - b,
  );
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

/** A figure with `digits` decimals, '-' when there is none. */
function fmt(/** @type {number | null | undefined} */ n, digits = 0) {
  return n === null || n === undefined ? '-' : n.toFixed(digits);
}

/** `label status, …` of a set of refused requests. */
function describeRefusals(/** @type {Record<string, number>} */ refused) {
  return Object.entries(refused)
    .map(([label, status]) => `${label} ${status}`)
    .join(', ');
}

/** `minor+major+incremental` milliseconds, e.g. `310+95+12`. */
function describeGc(/** @type {Record<string, number>} */ ms) {
  return ['minor', 'major', 'incremental'].map((kind) => fmt(ms[kind] ?? 0)).join('+');
}

/**
 * Server CPU per request of a load run, in µs (null without the server's CPU figure).
 *
 * @param {Measured} r
 */
function cpuUsPerRequest(r) {
  return r.cpuPercent.server === null
    ? null
    : (((r.cpuPercent.server / 100) * r.elapsedSeconds) / r.requests) * 1e6;
}

/**
 * @typedef {object} SummaryRow a scenario's medians over the rounds, against its baseline
 * @property {string} scenario
 * @property {number | null} rps
 * @property {number | null} p50Ms
 * @property {number | null} p99Ms
 * @property {number | null} cpuUs server CPU per request (µs)
 * @property {string | null} baseline
 * @property {number | null} ratio req/s against the baseline's
 * @property {number | null} target
 * @property {string} result PASS, MISS, ERROR or -
 * @property {number} [tokensRanOut] runs that spent their tokens before 95 % of the duration
 * @property {number | null} [medianSecondsRun]
 */

/**
 * @param {Record<string, RoundRun[]>} runs by scenario
 * @returns {SummaryRow[]}
 */
function summarize(runs) {
  const medianRps = (/** @type {string} */ scenario) => median(runs[scenario].map((r) => r.rps));
  return SCENARIOS.map((scenario) => {
    const rps = medianRps(scenario);
    const baseline = BASELINES[scenario] ?? null;
    const baselineRps = baseline ? medianRps(baseline) : null;
    const ratio = baselineRps && rps !== null ? rps / baselineRps : null;
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
      result: failed
        ? 'ERROR'
        : target === null
          ? '-'
          : ratio !== null && ratio >= target
            ? 'PASS'
            : 'MISS',
      ...(usesTokenFile(scenario)
        ? {
            tokensRanOut: runs[scenario].filter(
              (r) => r.tokensExhausted && r.elapsedSeconds < 0.95 * config.duration,
            ).length,
            medianSecondsRun: median(runs[scenario].map((r) => r.elapsedSeconds)),
          }
        : {}),
    };
  });
}

/** @param {SummaryRow[]} rows */
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
  const line = (/** @type {string[]} */ cells) =>
    cells
      .map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ');
  log('');
  log(line(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) log(line(row));
  log('');
}

/**
 * One round's run of a scenario, as printed when it ends.
 *
 * @param {string} scenario
 * @param {Measured} m
 */
function printRun(scenario, m) {
  let note = '';
  if (m.tokensExhausted)
    note = `  (tokens ran out: ${m.tokensAvailable} requests in ${m.elapsedSeconds} s)`;
  log(
    `  ${scenario.padEnd(28)} ${fmt(m.rps).padStart(7)} req/s  p50 ${fmt(m.latencyMs.p50, 2)} ms` +
      `  p99 ${fmt(m.latencyMs.p99, 2)} ms  ${m.requests} requests` +
      `  CPU server ${fmt(m.cpuPercent.server)}% (${fmt(cpuUsPerRequest(m), 1)} µs/request)` +
      ` / load ${fmt(m.cpuPercent.loadGenerator)}%${note}`,
  );
}

/**
 * Warden's Connect route against atlassian-connect-express's, both with a never-seen Connect JWT
 * per request: the ratio of the median rates (and each round's ratio, the two runs of a round
 * being close in time).
 *
 * @param {SummaryRow[]} summary
 * @param {Record<string, RoundRun[]>} runs
 */
function compareWithAce(summary, runs) {
  const { scenario, peer, target } = CONNECT_VS_ACE;
  const w = /** @type {SummaryRow} */ (summary.find((r) => r.scenario === scenario));
  const a = /** @type {SummaryRow} */ (summary.find((r) => r.scenario === peer));
  const ratio = a.rps && w.rps !== null ? w.rps / a.rps : null;
  const perRound = runs[scenario].map((r, i) =>
    runs[peer][i] && runs[peer][i].rps ? r.rps / runs[peer][i].rps : null,
  );
  // Server CPU per request (µs): less sensitive than the rate to a server that could not get
  // its whole core (other work on the machine) or was not saturated.
  const cpuUs = (/** @type {Measured} */ r) =>
    r.cpuPercent.server === null || r.requests === 0 ? null : cpuUsPerRequest(r);
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

/** @param {ReturnType<typeof compareWithAce>} c */
function printConnectVsAce(c, /** @type {string} */ connectPath) {
  log(
    `Connect: Warden ${connectPath} with a never-seen Connect JWT per request ` +
      `${fmt(c.wardenRps)} req/s (${fmt(c.wardenVsBare, 3)} of bare), atlassian-connect-express ` +
      `authenticate() ${fmt(c.aceRps)} req/s (${fmt(c.aceVsBare, 3)} of bare; the tenant read ` +
      `from its PostgreSQL store per request): Warden/ACE ${fmt(c.ratio, 2)} (per round ` +
      `${c.perRound.map((r) => fmt(r, 2)).join(', ')}; target >= ${c.target}) -> ${c.result}. ` +
      `Server CPU per request: Warden ${fmt(c.wardenCpuUs, 0)} µs, ACE ${fmt(c.aceCpuUs, 0)} µs ` +
      `(${fmt(c.cpuRatio, 2)}×)`,
  );
}

/**
 * The decision endpoint against bare Fastify answering the same headers: how much of the gap to
 * bare-decision is the answer's headers (which any server sending them pays) and how much is
 * Warden's judging. Prints nothing when the run left either out.
 *
 * @param {SummaryRow[]} summary
 * @param {number} headerCount
 */
function printHeadersReference(summary, headerCount) {
  const { scenario, reference } = HEADERS_REFERENCE;
  const w = summary.find((r) => r.scenario === scenario);
  const h = summary.find((r) => r.scenario === reference);
  if (!w || !h || w.rps === null || !h.rps) return;
  log(
    `Answer headers: bare Fastify sending the ${headerCount} headers of Warden's decision answer ` +
      `${fmt(h.rps)} req/s (${fmt(h.ratio, 3)} of ${BASELINES[reference]}, CPU ` +
      `${fmt(h.cpuUs, 1)} µs per request); ${scenario} is ${fmt(w.rps / h.rps, 3)} of it ` +
      `(CPU ${fmt(w.cpuUs, 1)} µs)`,
  );
}

/**
 * Warden's protected route against the contract's floor for it (bench/nest-floor.js): what the
 * route costs beyond the digest, look-up and count, the answer headers and the audit row that any
 * implementation on Nest pays. Prints nothing when the run left either out.
 *
 * @param {SummaryRow[]} summary
 */
function printFloorReference(summary) {
  const { scenario, reference } = FLOOR_REFERENCE;
  const w = summary.find((r) => r.scenario === scenario);
  const f = summary.find((r) => r.scenario === reference);
  if (!w || !f || w.rps === null || !f.rps) return;
  log(
    `Contract floor: ${reference} ${fmt(f.rps)} req/s (${fmt(f.ratio, 3)} of ` +
      `${BASELINES[reference]}, CPU ${fmt(f.cpuUs, 1)} µs per request); ${scenario} is ` +
      `${fmt(w.rps / f.rps, 3)} of it (CPU ${fmt(w.cpuUs, 1)} µs, ` +
      `${fmt((w.cpuUs ?? NaN) - (f.cpuUs ?? NaN), 1)} µs more)`,
  );
}

/** The scenarios with a baseline, as the table's heading says them. */
function printHeading() {
  log(
    `Medians over ${config.rounds} round(s); ratios are against bare Fastify measured in this ` +
      `same run: ${SCENARIOS.filter((s) => BASELINES[s])
        .map((s) => `${s} vs ${BASELINES[s]}`)
        .join(', ')}.`,
  );
}

/** Runs that spent their tokens early, and how to give them more. */
function printTokensRanOut(/** @type {SummaryRow[]} */ summary) {
  for (const row of summary.filter((r) => (r.tokensRanOut ?? 0) > 0)) {
    log(
      `${row.scenario} ran out of tokens early in ${row.tokensRanOut} of ${config.rounds} round(s) ` +
        `(median ${fmt(row.medianSecondsRun, 1)} s of ${config.duration} s); ` +
        `raise BENCH_MAX_TOKENS to run longer`,
    );
  }
}

/**
 * The failed requests of the run, and the last output of the servers they concern.
 *
 * @param {string[]} problems
 * @param {import('./setup').Servers} servers
 */
function printProblems(problems, servers) {
  log(`ERROR: ${problems.length} run(s) had non-2xx responses or errors (see above):`);
  for (const p of problems) log(`  - ${p}`);
  const wardenLog = tail(servers.warden.logFile, 15);
  if (wardenLog) log(`Warden's last output:\n${wardenLog}`);
  if (servers.ace && problems.some((p) => p.startsWith('ace-') || p.includes('(ace-')))
    log(`The ACE peer's last output:\n${tail(servers.ace.logFile, 15)}`);
  if (servers.peer && problems.some((p) => p.includes('peer:')))
    log(`The peer Warden's last output:\n${tail(servers.peer.logFile, 15)}`);
}

/**
 * Writes `report` to bench/results/latest.json (the folder ignored by git); answers its path.
 *
 * @param {object} report
 */
function writeResults(report) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const gitignore = path.join(RESULTS_DIR, '.gitignore');
  if (!fs.existsSync(gitignore)) fs.writeFileSync(gitignore, '*\n!.gitignore\n');
  const out = path.join(RESULTS_DIR, 'latest.json');
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  log(`Results written to ${path.relative(process.cwd(), out) || out}`);
}

module.exports = {
  median,
  fmt,
  describeRefusals,
  describeGc,
  cpuUsPerRequest,
  summarize,
  printTable,
  printRun,
  compareWithAce,
  printConnectVsAce,
  printHeadersReference,
  printFloorReference,
  printHeading,
  printTokensRanOut,
  printProblems,
  writeResults,
};
