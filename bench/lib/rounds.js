// @ts-check
'use strict';
// One scenario's load run in a round: its load spec (server, route, credentials), its tokens,
// the run, its figures, and a check that every server is still up.

const { PEER_REF, SCENARIO_SPECS, usesTokenFile } = require('./scenarios');
const { CONNECT_TOKEN_HEADROOM } = require('./config');
const { checkServerAlive } = require('./children');
const { runScenario, commonSpec } = require('./runs');
const { printRun } = require('./report');

/**
 * The load spec of a scenario; `tokens` (a token file) for the never-seen-token ones.
 *
 * @param {import('./setup').Bench} bench
 * @param {import('./setup').Servers} servers
 * @param {string} scenario
 * @param {{ file: string, warm: number } | null} [tokens]
 * @returns {import('./runs').LoadSpec}
 */
function specFor(bench, servers, scenario, tokens = null) {
  const def = SCENARIO_SPECS[scenario];
  const server = servers[def.server];
  if (!server) throw new Error(`${scenario}: its server (${def.server}) is not running`);
  /** @type {import('./runs').LoadSpec & { headers: Record<string, string> }} */
  const spec = { ...commonSpec(), url: `${server.base}${def.path}`, headers: { ...def.headers } };
  const bearer = (/** @type {string} */ token) => (spec.headers.authorization = `Bearer ${token}`);
  switch (def.credential) {
    case 'seen':
      bearer(bench.seen.get(scenario));
      break;
    case 'api-token':
      bearer(bench.credentialsOf(scenario).apiToken.token);
      break;
    case 'server-token':
      bearer(/** @type {{ token: string }} */ (server).token);
      break;
    case 'external':
      bearer(bench.external.token);
      break;
    case 'fresh':
    case 'connect':
      if (!tokens) throw new Error(`${scenario}: no token file`);
      spec.tokensFile = tokens.file;
      spec.warmupTokens = tokens.warm;
      if (def.credential === 'connect') spec.tokenScheme = 'JWT';
      break;
  }
  spec.serverPid = server.child.pid;
  return spec;
}

/**
 * Throws when a server of the run has exited.
 *
 * @param {import('./setup').Servers} servers
 */
function checkServersAlive(servers) {
  checkServerAlive(servers.warden, 'Warden');
  checkServerAlive(servers.bare, 'bare Fastify');
  if (servers.ace) checkServerAlive(servers.ace, 'the ACE peer');
  if (servers.peer) checkServerAlive(servers.peer, `the peer Warden (${PEER_REF})`);
  for (const [server, name] of /** @type {const} */ ([
    [servers.nest, 'bare NestJS'],
    [servers.nestJwt, 'nest-passport-jwt'],
    [servers.nestJwtKeyObject, 'nest-passport-jwt-keyobject'],
    [servers.floor, 'nest-floor'],
  ]))
    if (server) checkServerAlive(server, name);
}

/**
 * Round `round`'s run of `scenario`, with tokens of its own where it sends never-seen ones;
 * recorded in `runs` and printed.
 *
 * @param {import('./setup').Bench} bench
 * @param {import('./setup').Servers} servers
 * @param {Record<string, import('./runs').RoundRun[]>} runs
 * @param {import('./runs').Problems} problems
 * @param {string} scenario
 * @param {number} round
 */
async function measure(bench, servers, runs, problems, scenario, round) {
  const { files } = bench;
  const credential = SCENARIO_SPECS[scenario].credential;
  /** @type {import('./minting').Batch | null} */
  let batch = null;
  if (credential === 'seen') await bench.seen.ensure(scenario);
  // This scenario's own tokens for this round, never sent before.
  if (credential === 'fresh') batch = await files.freshBatch(scenario, round);
  // Connect tokens: this run's own, minted now.
  if (credential === 'connect')
    batch = files.mintConnectBatch(
      scenario,
      `round-${round}`,
      files.budgetFor(files.estimates[scenario], CONNECT_TOKEN_HEADROOM),
    );
  const result = await runScenario(
    bench.warden,
    scenario,
    specFor(bench, servers, scenario, batch),
  );
  if (batch) files.spent(scenario, round, batch);
  checkServersAlive(servers);
  const m = result.measured;
  runs[scenario].push({ round, ...m, warmup: result.warmup });
  printRun(scenario, m);
  problems.check(`${scenario} round ${round}`, result);
  if (usesTokenFile(scenario)) files.estimates[scenario] = m.rps;
}

module.exports = { specFor, measure };
