// @ts-check
'use strict';
// The scenario table: what each scenario sends to which server, the bare run it is compared
// with and the share of it it must reach; and the scenarios a run takes (BENCH_SCENARIOS,
// BENCH_PEER_REF, BENCH_CONNECT).

const {
  WHOAMI_PATH,
  DECISION_PATH,
  DECISION_WITH_HEADERS_PATH,
  ORIGINAL_HEADERS,
  CONNECT_PATH,
  CONNECT_ENABLED,
  ONLY,
} = require('./config');
const { peerRef, peerName, isPeer, currentOf, withPeerScenarios } = require('../peer-warden');

/**
 * How a scenario's requests are authenticated:
 *  - none: no credentials;
 *  - seen: one access token sent on every request (one per scenario);
 *  - api-token: the personal API token;
 *  - external: one token of the external identity provider;
 *  - fresh: a never-seen access token per request (each scenario and round its own tokens);
 *  - connect: a never-seen Connect JWT per request (`Authorization: JWT …`, minted here for
 *    each run);
 *  - server-token: the one token the comparison server made, sent on every request (the HS256
 *    token of the passport-jwt Nest routes, the opaque token of nest-floor).
 *
 * @typedef {'none' | 'seen' | 'api-token' | 'external' | 'fresh' | 'connect' | 'server-token'} Credential
 */

/**
 * @typedef {'warden' | 'bare' | 'nest' | 'nestJwt' | 'nestJwtKeyObject' | 'floor' | 'ace' | 'peer'} ServerName
 */

/**
 * @typedef {object} Scenario
 * @property {ServerName} server
 * @property {string} path
 * @property {Credential} credential
 * @property {Record<string, string>} [headers] sent on every request
 * @property {false} [audit] settings.audit.enabled false for its runs
 */

/**
 * @typedef {object} Row a line of the scenario table
 * @property {string} name
 * @property {Scenario} spec
 * @property {string} [baseline] the bare run it is compared with (same route, same body)
 * @property {number} [target] the share of its baseline's req/s it must reach
 */

/** @type {Row[]} Each round runs these in this order. */
const TABLE = [
  { name: 'bare', spec: { server: 'bare', path: WHOAMI_PATH, credential: 'none' } },
  // NestJS on Fastify with nothing of Warden's (bench/bare-nest.js): the framework's own floor.
  {
    name: 'bare-nest',
    spec: { server: 'nest', path: WHOAMI_PATH, credential: 'none' },
    baseline: 'bare',
  },
  // The NestJS guide's JWT set-up (bench/nest-passport-jwt.js): AuthGuard('jwt') and a
  // passport-jwt strategy with the HS256 secret as a string, as documented, and as a KeyObject.
  {
    name: 'nest-passport-jwt',
    spec: { server: 'nestJwt', path: WHOAMI_PATH, credential: 'server-token' },
    baseline: 'bare',
  },
  {
    name: 'nest-passport-jwt-keyobject',
    spec: { server: 'nestJwtKeyObject', path: WHOAMI_PATH, credential: 'server-token' },
    baseline: 'bare',
  },
  // The contract's floor (bench/nest-floor.js): the least a Nest route does for a token seen
  // before (digest, look-up, count), with Warden's answer headers and an audit row a request.
  {
    name: 'nest-floor',
    spec: { server: 'floor', path: WHOAMI_PATH, credential: 'server-token' },
    baseline: 'bare',
  },
  {
    name: 'access-token-seen',
    spec: { server: 'warden', path: WHOAMI_PATH, credential: 'seen' },
    baseline: 'bare',
    target: 0.5,
  },
  // The same with settings.audit.enabled false for the run: the difference is the audit's cost.
  {
    name: 'access-token-seen-no-audit',
    spec: { server: 'warden', path: WHOAMI_PATH, credential: 'seen', audit: false },
    baseline: 'bare',
  },
  {
    name: 'api-token-seen',
    spec: { server: 'warden', path: WHOAMI_PATH, credential: 'api-token' },
    baseline: 'bare',
    target: 0.5,
  },
  // A token of an external identity provider (externalJwt, publicKey mode), the same every time.
  {
    name: 'external-token-seen',
    spec: { server: 'warden', path: WHOAMI_PATH, credential: 'external' },
    baseline: 'bare',
    target: 0.5,
  },
  {
    name: 'access-token-new',
    spec: { server: 'warden', path: WHOAMI_PATH, credential: 'fresh' },
    baseline: 'bare',
    target: 0.25,
  },
  {
    name: 'bare-decision',
    spec: { server: 'bare', path: DECISION_PATH, headers: ORIGINAL_HEADERS, credential: 'none' },
  },
  // Bare Fastify answering the decision body with every header of Warden's decision answer (the
  // security headers, the request id, the rate limit's, X-Warden-*): what they cost by themselves.
  {
    name: 'bare-decision-with-headers',
    spec: {
      server: 'bare',
      path: DECISION_WITH_HEADERS_PATH,
      headers: ORIGINAL_HEADERS,
      credential: 'none',
    },
    baseline: 'bare-decision',
  },
  {
    name: 'decision-seen',
    spec: { server: 'warden', path: DECISION_PATH, headers: ORIGINAL_HEADERS, credential: 'seen' },
    baseline: 'bare-decision',
    target: 0.5,
  },
  {
    name: 'decision-new',
    spec: {
      server: 'warden',
      path: DECISION_PATH,
      headers: ORIGINAL_HEADERS,
      credential: 'fresh',
    },
    baseline: 'bare-decision',
    target: 0.25,
  },
  // The Connect route (BENCH_CONNECT=0 leaves these out).
  { name: 'bare-connect', spec: { server: 'bare', path: CONNECT_PATH, credential: 'none' } },
  {
    name: 'connect-new',
    spec: { server: 'warden', path: CONNECT_PATH, credential: 'connect' },
    baseline: 'bare-connect',
    // Five times what atlassian-connect-express's authenticate() reaches (about 0.037 of bare).
    target: 0.185,
  },
  // atlassian-connect-express's authenticate() on express (bench/ace-peer.js).
  {
    name: 'ace-connect-new',
    spec: { server: 'ace', path: CONNECT_PATH, credential: 'connect' },
    baseline: 'bare-connect',
  },
];
const CONNECT_SCENARIO_NAMES = ['bare-connect', 'connect-new', 'ace-connect-new'];

// BENCH_PEER_REF: Warden at that git ref (bench/peer-warden.js) runs the Warden scenarios too,
// as `peer:<scenario>`, each right after the current build's.
const PEER_REF = peerRef();
const OWN_SCENARIO_SPECS = Object.fromEntries(
  TABLE.filter((row) => CONNECT_ENABLED || !CONNECT_SCENARIO_NAMES.includes(row.name)).map(
    (row) => [row.name, row.spec],
  ),
);
/** @type {Record<string, Scenario>} every known scenario, peers included */
const SCENARIO_SPECS = withPeerScenarios(OWN_SCENARIO_SPECS, PEER_REF);
/** @type {Record<string, number>} */
const TARGETS = {};
/** @type {Record<string, string>} The bare run each scenario is compared with. */
const BASELINES = {};
for (const row of TABLE) {
  if (row.target !== undefined) TARGETS[row.name] = row.target;
  if (row.baseline !== undefined) BASELINES[row.name] = row.baseline;
}
// A peer scenario is compared with the same baseline as the current build's.
for (const scenario of Object.keys(SCENARIO_SPECS))
  if (isPeer(scenario)) BASELINES[scenario] = BASELINES[currentOf(scenario)];
// Warden's Connect route against atlassian-connect-express's, same run, same tokens' shape.
const CONNECT_VS_ACE = { scenario: 'connect-new', peer: 'ace-connect-new', target: 5 };
// The decision endpoint against bare Fastify sending the same answer headers.
const HEADERS_REFERENCE = { scenario: 'decision-seen', reference: 'bare-decision-with-headers' };
// Warden's protected route against the contract's floor for it.
const FLOOR_REFERENCE = { scenario: 'access-token-seen', reference: 'nest-floor' };

/**
 * BENCH_SCENARIOS narrows a run to the scenarios named (with their baselines and peers: the ACE
 * peer, and with BENCH_PEER_REF each one's `peer:` twin), for working on one path; the full run,
 * and its targets, take them all. Ends the process (exit 2) on an unknown name.
 *
 * @returns {string[]}
 */
function selectScenarios() {
  const unknown = ONLY.filter((o) => !SCENARIO_SPECS[o]);
  if (unknown.length > 0) {
    process.stderr.write(
      `BENCH_SCENARIOS: no scenario ${unknown.join(', ')} (known: ${Object.keys(SCENARIO_SPECS).join(', ')})\n`,
    );
    process.exit(2);
  }
  const named = (/** @type {string} */ s) =>
    ONLY.includes(s) || ONLY.includes(currentOf(s)) || ONLY.includes(peerName(s));
  return Object.keys(SCENARIO_SPECS).filter(
    (s) =>
      ONLY.length === 0 ||
      named(s) ||
      ONLY.some(
        (o) =>
          BASELINES[o] === s ||
          BASELINES[currentOf(o)] === s ||
          (currentOf(o) === 'connect-new' && s === 'ace-connect-new') ||
          (BASELINES[currentOf(o)] === 'bare-decision' && s === HEADERS_REFERENCE.reference) ||
          (currentOf(o) === FLOOR_REFERENCE.scenario && s === FLOOR_REFERENCE.reference),
      ),
  );
}

/** The scenarios of this run, in the order each round runs them. */
const SCENARIOS = selectScenarios();
/** Scenarios with a never-seen access token per request. */
const FRESH_SCENARIOS = SCENARIOS.filter((s) => SCENARIO_SPECS[s].credential === 'fresh');
/** Scenarios with a never-seen Connect JWT per request. */
const CONNECT_SCENARIOS = SCENARIOS.filter((s) => SCENARIO_SPECS[s].credential === 'connect');

/**
 * The order round `round` runs the scenarios in: each `peer:` twin right after the current
 * build's scenario in odd rounds, right before it in even ones, so that neither build always
 * runs on the machine state the other left (a run with the peer built from the current commit
 * differed by up to 15 % a round when the current build always went first).
 *
 * @param {number} round
 * @returns {string[]}
 */
function roundOrder(round) {
  const order = [...SCENARIOS];
  if (round % 2 === 1) return order;
  for (let i = 0; i + 1 < order.length; i++)
    if (order[i + 1] === `peer:${order[i]}`) {
      [order[i], order[i + 1]] = [order[i + 1], order[i]];
      i++;
    }
  return order;
}

/** Scenarios that send a never-seen token per request, from a file of tokens each used once. */
const usesTokenFile = (/** @type {string} */ scenario) =>
  ['fresh', 'connect'].includes(SCENARIO_SPECS[scenario].credential);

module.exports = {
  TABLE,
  PEER_REF,
  SCENARIO_SPECS,
  TARGETS,
  BASELINES,
  CONNECT_VS_ACE,
  HEADERS_REFERENCE,
  FLOOR_REFERENCE,
  SCENARIOS,
  FRESH_SCENARIOS,
  CONNECT_SCENARIOS,
  usesTokenFile,
  isPeer,
  roundOrder,
};
