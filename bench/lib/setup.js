// @ts-check
'use strict';
// Bringing a run up: Warden configured and checked, its credentials (seen tokens, an API token,
// an external IdP's token, a Connect tenant), the peer Warden at BENCH_PEER_REF, then the
// servers it is compared with. Each step says what it set up and checked.

const fs = require('node:fs');
const path = require('node:path');
const { execSync } = require('node:child_process');
const {
  ROOT,
  WARMUP_SECONDS,
  WHOAMI_PATH,
  DECISION_PATH,
  ORIGINAL_REQUEST,
  CONNECT_PATH,
  CONNECT_ENABLED,
  CONNECT_APP_KEY,
  SOAK,
  config,
} = require('./config');
const { run, log, tmpPath, prepareRun } = require('./children');
const { call } = require('./http');
const { BYPASS_PROBE, PUBLIC_PROBE, checkDecision, answerHeadersOf } = require('./restrictions');
const { startWarden } = require('./warden');
const { configureSettings } = require('./warden-settings');
const { createApiToken, configureExternal } = require('./warden-credentials');
const { startKeysServer, installConnect } = require('./connect');
const { Minter, SeenTokens, TokenFiles } = require('./minting');
const { startBare, startNestJwt, startNestFloor, startAce } = require('./peers');
const { describeRefusals } = require('./report');
const { PEER_REF, SCENARIO_SPECS, SCENARIOS, isPeer } = require('./scenarios');
const { preparePeer, startPeer } = require('../peer-warden');

/** @typedef {Awaited<ReturnType<typeof setUpWarden>>} Bench */
/** @typedef {Awaited<ReturnType<typeof startComparisons>>} Servers */

/** `<n> requests per <s> s` of a rate limit, `off, …` when disabled. */
const describeLimit = (
  /** @type {{ enabled: boolean, requests: number, windowSeconds: number } | null} */ l,
) => (l ? `${l.enabled ? '' : 'off, '}${l.requests} requests per ${l.windowSeconds} s` : 'none');

/**
 * Builds Warden when dist/ is missing, plans the pinning, makes the temporary directory, then
 * starts Warden (and the peer Warden) and sets up and checks everything the scenarios send it.
 */
async function setUpWarden() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'main.js'))) {
    log('dist/main.js is missing: building Warden (npx nest build)…');
    execSync('npx nest build', { cwd: ROOT, stdio: 'inherit' });
  }
  prepareRun();
  log(
    `Warden benchmark: ${config.rounds} round(s) of ${config.duration} s per scenario ` +
      `(+${WARMUP_SECONDS} s warm-up), ${config.connections} connections, pipelining ${config.pipelining}`,
  );
  log(`Pinning: ${run.plan.note}`);
  // Warden at BENCH_PEER_REF, checked out and built before anything is measured (a failed build
  // ends the run here); started beside the current one below.
  const peerBuild =
    PEER_REF && SOAK.minutes === 0
      ? await preparePeer({ root: ROOT, ref: PEER_REF, logDir: tmpPath('.'), log })
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
      ? (/** @type {string} */ base) => ({
          WARDEN_BASE_URL: base,
          CONNECT_APP_KEY,
          CONNECT_KEYS_URL: keys.url,
        })
      : undefined,
  };
  const warden = await startWarden(wardenOptions);
  log(`Warden is up on ${warden.base}`);
  const settings = await configureSettings(warden);
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
  /** @type {Awaited<ReturnType<typeof startPeer>> | null} */
  let peer = null;
  /** @type {import('./connect').Connect | null} */
  let connect = null;
  /** @type {Awaited<ReturnType<typeof createApiToken>> | null} */
  let apiToken = null;
  const credentialsOf = (/** @type {string} */ scenario) => {
    const from = isPeer(scenario) ? peer : { minter, apiToken, connect };
    if (!from || !from.apiToken) throw new Error(`${scenario}: its Warden is not set up`);
    return { minter: from.minter, apiToken: from.apiToken, connect: from.connect };
  };
  const seen = new SeenTokens(credentialsOf);
  // (The two set-up checks below use the seen tokens of access-token-seen and decision-seen,
  // minted even when BENCH_SCENARIOS leaves those scenarios out.)
  for (const s of new Set([...SCENARIOS, 'access-token-seen', 'decision-seen'])) {
    if (SCENARIO_SPECS[s].credential === 'seen' && !isPeer(s))
      seen.tokens[s] = (await minter.mint(1)).tokens[0];
  }
  const whoami = await call('GET', `${warden.base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${seen.get('access-token-seen')}`,
  });
  const whoamiBody = whoami.text;
  // For nest-floor, which answers the same route with the same headers.
  const whoamiHeaders = answerHeadersOf(whoami.headers);
  if (whoami.status !== 200 || !whoami.json || whoami.json.authMethod !== 'access')
    throw new Error(`Warden GET ${WHOAMI_PATH} answered ${whoami.status}: ${whoamiBody}`);
  const decision = await checkDecision(warden, seen.get('decision-seen'));
  log(
    `Restrictions in force: ${DECISION_PATH} lets ${BYPASS_PROBE} (bypass) and ${PUBLIC_PROBE} ` +
      `(public) through; for ${ORIGINAL_REQUEST.method} ${ORIGINAL_REQUEST.uri} it answers ` +
      `${decision.body} with ${Object.entries(decision.wardenHeaders)
        .filter(([name]) => name !== 'x-warden-credential-id')
        .map(([name, value]) => `${name}: ${value}`)
        .join(', ')}`,
  );
  apiToken = await createApiToken(warden);
  log(
    `API token ${apiToken.info.prefix}… created (scopes ${apiToken.info.scopes}); ` +
      `GET ${WHOAMI_PATH} with it answers ${apiToken.whoamiBody}`,
  );
  const external = await configureExternal(warden);
  log(
    `External IdP configured (publicKey mode); GET ${WHOAMI_PATH} with its token answers ` +
      external.whoamiBody,
  );
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
  await seen.mintFor(SCENARIOS.filter(isPeer));
  if (connect) {
    log(
      `Connect: tenant ${connect.tenant.clientKey} installed (POST /connect/installed, signed ` +
        `install, ${connect.install.status}; the keys server answered ` +
        `${connect.install.keysServerRequests} request(s)); GET ${CONNECT_PATH} with a fresh ` +
        `Connect JWT answers ${connect.body}; bad tokens refused: ${describeRefusals(connect.refused)}`,
    );
  }
  return {
    warden,
    settings,
    minter,
    credentialsOf,
    seen,
    whoamiBody,
    whoamiHeaders,
    decision,
    apiToken,
    external,
    connect,
    peer,
    peerBuild,
    files: new TokenFiles(minter, credentialsOf, settings.after.accessTtlSeconds, SCENARIOS.length),
  };
}

/**
 * The servers Warden is compared with, answering Warden's bodies: bare Fastify always, the others
 * when a scenario of the run needs them.
 *
 * @param {Bench} bench
 */
async function startComparisons(bench) {
  const { whoamiBody, whoamiHeaders, decision, connect } = bench;
  const connectBody = connect && connect.body;
  const bare = await startBare(
    whoamiBody,
    decision.body,
    connectBody,
    'fastify',
    decision.answerHeaders,
  );
  log(
    `Bare Fastify is up on ${bare.base}; both answer ${WHOAMI_PATH} with ${whoamiBody} and ` +
      `${DECISION_PATH} with ${decision.body}` +
      (connect ? ` (and ${CONNECT_PATH} with Warden's Connect body)` : ''),
  );
  const bareNest = SCENARIOS.includes('bare-nest')
    ? await startBare(whoamiBody, decision.body, connectBody, 'nest')
    : null;
  if (bareNest) log(`Bare NestJS (Fastify adapter) is up on ${bareNest.base}; same bodies`);
  const nestJwt = SCENARIOS.includes('nest-passport-jwt')
    ? await startNestJwt(whoamiBody, 'string')
    : null;
  const nestJwtKeyObject = SCENARIOS.includes('nest-passport-jwt-keyobject')
    ? await startNestJwt(whoamiBody, 'keyobject')
    : null;
  for (const [server, secret] of /** @type {const} */ ([
    [nestJwt, 'a string'],
    [nestJwtKeyObject, 'a KeyObject'],
  ])) {
    if (!server) continue;
    log(
      `NestJS passport-jwt (AuthGuard('jwt'), HS256 secret as ${secret}) is up on ${server.base}; ` +
        `${WHOAMI_PATH} answers Warden's body with its token, refuses none and a forged one (401)`,
    );
  }
  const floor = SCENARIOS.includes('nest-floor')
    ? await startNestFloor(whoamiBody, whoamiHeaders)
    : null;
  if (floor) {
    log(
      `The contract's floor (NestJS, a guard finding the caller by its token's digest, Warden's ` +
        `${Object.keys(whoamiHeaders).length} answer headers, an audit row a request in SQLite) ` +
        `is up on ${floor.base}; ${WHOAMI_PATH} answers Warden's body with its token, refuses ` +
        `none and another (401)`,
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
  return {
    warden: bench.warden,
    bare,
    nest: bareNest,
    nestJwt,
    nestJwtKeyObject,
    floor,
    ace: acePeer,
    peer: bench.peer && bench.peer.warden,
  };
}

module.exports = { setUpWarden, startComparisons };
