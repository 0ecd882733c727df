// @ts-check
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
//
// The parts live in bench/lib: config (BENCH_* variables), scenarios (the scenario table),
// children (processes, pinning, clean-up), warden and connect (Warden's set-up), peers (the
// servers it is compared with), setup, minting (tokens), calibration, rounds and runs (load
// runs), audit, purge, report and results (the figures).

const { CONNECT_PATH, RESULTS_DIR, SOAK, PURGE_ENABLED, config } = require('./lib/config');
const {
  run,
  log,
  tail,
  cleanup,
  onExit,
  installHandlers,
  spawnChild,
  wasInterrupted,
  describeError,
} = require('./lib/children');
const { call } = require('./lib/http');
const { SCENARIOS, CONNECT_VS_ACE, roundOrder } = require('./lib/scenarios');
const { setUpWarden, startComparisons } = require('./lib/setup');
const { calibrate } = require('./lib/calibration');
const { measure, specFor } = require('./lib/rounds');
const { Problems } = require('./lib/runs');
const { measureAuditPairs, auditCost, printAuditCost } = require('./lib/audit');
const { purgeBench } = require('./lib/purge');
const report = require('./lib/report');
const results = require('./lib/results');
const { runSoak } = require('./soak');
const { removePeerSync, comparePeers, printPeerComparison } = require('./peer-warden');

async function main() {
  const started = new Date();
  installHandlers();
  onExit(removePeerSync);
  const bench = await setUpWarden();
  if (SOAK.minutes > 0) {
    // The memory soak instead of the throughput rounds (npm run bench:soak; bench/soak.js).
    const soak = await runSoak(
      {
        warden: bench.warden,
        minter: bench.minter,
        connect: bench.connect,
        connectPath: CONNECT_PATH,
        plan: run.plan,
        spawnChild,
        call,
        log,
        tail,
        tmpDir: /** @type {string} */ (run.tmpDir),
        resultsDir: RESULTS_DIR,
      },
      SOAK,
    );
    if (soak.result === 'ERROR') process.exitCode = 1;
    return;
  }
  const servers = await startComparisons(bench);
  const problems = new Problems();
  /** @type {Record<string, import('./lib/runs').RoundRun[]>} */
  const runs = Object.fromEntries(SCENARIOS.map((s) => [s, []]));

  const calibrations = await calibrate(bench, servers, problems);
  // Fresh tokens for as many rounds as their lifetime allows (all of them, normally), at once.
  await bench.files.mintRounds(1);
  for (let round = 1; round <= config.rounds; round++) {
    log(`Round ${round}/${config.rounds}`);
    await bench.files.mintRounds(round);
    for (const scenario of roundOrder(round))
      await measure(bench, servers, runs, problems, scenario, round);
  }
  // The audit's cost under load: pairs of access-token-seen runs, audit on and off.
  /** @type {import('./lib/audit').AuditPair[]} */
  let auditPairs = [];
  if (config.auditPairs > 0 && SCENARIOS.includes('access-token-seen')) {
    await bench.seen.ensure('access-token-seen');
    const spec = specFor(bench, servers, 'access-token-seen');
    auditPairs = await measureAuditPairs(bench.warden, spec, problems);
  }

  const summary = report.summarize(runs);
  const minting = results.mintingSummary(bench);
  report.printHeading();
  report.printTable(summary);
  const peerComparison = bench.peer ? comparePeers(summary, runs) : null;
  if (peerComparison && bench.peerBuild) printPeerComparison(peerComparison, bench.peerBuild, log);
  const connectVsAce =
    bench.connect && SCENARIOS.includes(CONNECT_VS_ACE.scenario)
      ? report.compareWithAce(summary, runs)
      : null;
  if (connectVsAce) report.printConnectVsAce(connectVsAce, CONNECT_PATH);
  report.printHeadersReference(summary, Object.keys(bench.decision.answerHeaders).length);
  report.printFloorReference(summary);
  // The audit's cost needs its pairs (BENCH_AUDIT_PAIRS=0 or BENCH_SCENARIOS may leave them out).
  const audit =
    auditPairs.length > 0
      ? await auditCost(bench.warden, runs, auditPairs)
      : {
          skipped:
            config.auditPairs === 0
              ? 'BENCH_AUDIT_PAIRS=0'
              : 'BENCH_SCENARIOS left access-token-seen out',
        };
  if ('skipped' in audit) log(`Audit cost: not measured (${audit.skipped})`);
  else printAuditCost(audit);
  const purge = PURGE_ENABLED ? await purgeBench() : { skipped: 'BENCH_PURGE=0' };
  const connectMinting = results.connectMintingSummary(bench);
  results.printMinting(minting, connectMinting);
  report.printTokensRanOut(summary);
  if (problems.list.length > 0) {
    report.printProblems(problems.list, servers);
    process.exitCode = 1;
  }

  const document = results.resultsDocument({
    started,
    bench,
    servers,
    calibrations,
    minting,
    connectMinting,
    summary,
    peerComparison,
    connectVsAce,
    audit,
    purge,
    runs,
    problems: problems.list,
  });
  report.writeResults(document);
  log(`Total time ${report.fmt(document.totalSeconds, 0)} s`);
}

main()
  .catch((err) => {
    if (wasInterrupted()) return; // the signal handler reports and sets the exit code
    process.stderr.write(`Benchmark failed: ${describeError(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
