// @ts-check
'use strict';
// What a run writes down at its end: the minting figures, and bench/results/latest.json (every
// setting, check, calibration, run and verdict of the run).

const os = require('node:os');
const {
  ORIGINAL_REQUEST,
  CONNECT_PATH,
  CONNECT_ENABLED,
  CONNECT_APP_KEY,
  CONNECT_TENANT_BASE_URL,
  config,
  connectTokenTtl,
} = require('./config');
const { run, log } = require('./children');
const { RESTRICTIONS, BYPASS_PROBE, PUBLIC_PROBE } = require('./restrictions');
const {
  TARGETS,
  BASELINES,
  SCENARIOS,
  SCENARIO_SPECS,
  CONNECT_VS_ACE,
  FRESH_SCENARIOS,
  CONNECT_SCENARIOS,
} = require('./scenarios');
const { fmt } = require('./report');

/**
 * The access tokens minted for the rounds (calibration apart), and in all.
 *
 * @param {import('./setup').Bench} bench
 */
function mintingSummary(bench) {
  const { minter, files, peer } = bench;
  const roundMints = files.mints.filter((m) => !m.calibration);
  const mintedTokens = roundMints.reduce((a, m) => a + m.tokens, 0);
  const mintSeconds = roundMints.reduce((a, m) => a + m.seconds, 0);
  return {
    scenarios: FRESH_SCENARIOS,
    tokens: mintedTokens,
    seconds: Math.round(mintSeconds * 10) / 10,
    perSecond: mintSeconds > 0 ? Math.round(mintedTokens / mintSeconds) : null,
    signaturesPerToken: minter.rotating ? 2 : 1,
    rotation: Boolean(minter.rotating),
    chains: minter.rotating ? minter.sessions.length : config.mintChains,
    sessions: minter.sessions.length,
    batches: roundMints.length,
    calibrationTokens: files.mints.filter((m) => m.calibration).reduce((a, m) => a + m.tokens, 0),
    allTokens: minter.jtis.size + (peer ? peer.minter.jtis.size : 0),
  };
}

/**
 * The Connect tokens minted here; null without Connect.
 *
 * @param {import('./setup').Bench} bench
 */
function connectMintingSummary(bench) {
  const mints = bench.files.connectMints;
  return bench.connect
    ? {
        scenarios: CONNECT_SCENARIOS,
        tokens: mints.reduce((a, m) => a + m.tokens, 0),
        seconds: Math.round(mints.reduce((a, m) => a + m.seconds, 0) * 100) / 100,
        ttlSeconds: connectTokenTtl(),
        batches: mints,
      }
    : null;
}

/**
 * @param {ReturnType<typeof mintingSummary>} minting
 * @param {ReturnType<typeof connectMintingSummary>} connectMinting
 */
function printMinting(minting, connectMinting) {
  if (FRESH_SCENARIOS.length > 0)
    log(
      `Minting for ${FRESH_SCENARIOS.join(' and ')}: ${minting.tokens} tokens in ` +
        `${minting.seconds} s = ${minting.perSecond}/s (GET /system/reauth, rotation ` +
        `${minting.rotation ? 'on' : 'off'}, ${minting.signaturesPerToken} signature(s) per token, ` +
        `${minting.chains} chains on ${minting.sessions} sessions, ${minting.batches} batch(es)); ` +
        `${minting.allTokens} access tokens minted in all, calibration and seen tokens included`,
    );
  if (connectMinting && CONNECT_SCENARIOS.length > 0) {
    log(
      `Connect tokens for ${CONNECT_SCENARIOS.join(' and ')}: ${connectMinting.tokens} minted ` +
        `here in ${fmt(connectMinting.seconds, 2)} s (HS256 over the tenant's secret, a new jti ` +
        `each, valid ${connectMinting.ttlSeconds} s), calibration included, each run's just ` +
        `before it`,
    );
  }
}

/**
 * The versions of what the run measured, and the machine.
 */
function environment() {
  return {
    node: process.version,
    fastify: require('fastify/package.json').version,
    autocannon: require('autocannon/package.json').version,
    nestjsPassport: require('@nestjs/passport/package.json').version,
    passportJwt: require('passport-jwt/package.json').version,
    ...(CONNECT_ENABLED
      ? {
          atlassianConnectExpress: require('atlassian-connect-express/package.json').version,
          express: require('express/package.json').version,
          sequelize: require('sequelize/package.json').version,
          pg: require('pg/package.json').version,
        }
      : {}),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0] && os.cpus()[0].model,
    pinning: run.plan,
  };
}

/**
 * bench/results/latest.json's document.
 *
 * @param {object} parts
 * @param {Date} parts.started
 * @param {import('./setup').Bench} parts.bench
 * @param {import('./setup').Servers} parts.servers
 * @param {Record<string, import('./runs').Measured>} parts.calibrations
 * @param {ReturnType<typeof mintingSummary>} parts.minting
 * @param {ReturnType<typeof connectMintingSummary>} parts.connectMinting
 * @param {import('./report').SummaryRow[]} parts.summary
 * @param {unknown} parts.peerComparison
 * @param {unknown} parts.connectVsAce
 * @param {unknown} parts.audit
 * @param {unknown} parts.purge
 * @param {Record<string, import('./runs').RoundRun[]>} parts.runs
 * @param {string[]} parts.problems
 */
function resultsDocument(parts) {
  const { started, bench, servers } = parts;
  const { settings, decision, apiToken, connect, peer, peerBuild } = bench;
  return {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    totalSeconds: Math.round((Date.now() - started.getTime()) / 100) / 10,
    config: {
      ...config,
      targets: TARGETS,
      baselines: BASELINES,
      scenarios: SCENARIOS,
      scenarioSpecs: SCENARIO_SPECS,
      originalRequest: ORIGINAL_REQUEST,
      connect: CONNECT_ENABLED
        ? {
            path: CONNECT_PATH,
            appKey: CONNECT_APP_KEY,
            tenantBaseUrl: CONNECT_TENANT_BASE_URL,
            tokenTtlSeconds: connectTokenTtl(),
            vsAce: CONNECT_VS_ACE,
          }
        : { skipped: 'BENCH_CONNECT=0' },
    },
    environment: environment(),
    settings: {
      tokensBefore: settings.before,
      tokensAfter: settings.after,
      rateLimitBefore: settings.rateLimitBefore,
      rateLimitAfter: settings.rateLimitAfter,
      restrictions: RESTRICTIONS,
      patch: settings.patch,
      forced: settings.forced,
      // The whole document as Warden answered it (secrets masked), before and after the PATCH.
      documentBefore: settings.documentBefore,
      documentAfter: settings.documentAfter,
    },
    whoamiBody: bench.whoamiBody,
    decision: {
      originalRequest: ORIGINAL_REQUEST,
      body: decision.body,
      contentType: decision.contentType,
      wardenHeaders: decision.wardenHeaders,
      probes: { bypass: BYPASS_PROBE, public: PUBLIC_PROBE },
    },
    apiToken: { ...apiToken.info, whoamiBody: apiToken.whoamiBody },
    // The tenant (its shared secret left out), Warden's answers, the ACE peer's refusals.
    connect: connect
      ? {
          clientKey: connect.tenant.clientKey,
          accountId: connect.tenant.accountId,
          baseUrl: connect.tenant.baseUrl,
          install: connect.install,
          body: connect.body,
          contentType: connect.contentType,
          wardenRefused: connect.refused,
          aceRefused: servers.ace && servers.ace.refused,
          minting: parts.connectMinting,
          vsAce: parts.connectVsAce,
        }
      : null,
    // BENCH_PEER_REF: the ref, how it was built, and each scenario against it.
    peer:
      peerBuild && peer
        ? {
            ref: peerBuild.ref,
            commit: peerBuild.commit,
            subject: peerBuild.subject,
            current: peerBuild.current,
            nodeModules: peerBuild.nodeModules,
            buildSeconds: peerBuild.buildSeconds,
            whoamiBody: peer.whoamiBody,
            decision: { body: peer.decision.body, wardenHeaders: peer.decision.wardenHeaders },
            apiToken: peer.apiToken.info,
            connect: peer.connect
              ? { clientKey: peer.connect.tenant.clientKey, refused: peer.connect.refused }
              : null,
            comparison: parts.peerComparison,
          }
        : null,
    calibrations: parts.calibrations,
    minting: parts.minting,
    mints: bench.files.mints,
    summary: parts.summary,
    audit: parts.audit,
    purge: parts.purge,
    runs: parts.runs,
    problems: parts.problems,
    ok: parts.problems.length === 0,
  };
}

module.exports = { mintingSummary, connectMintingSummary, printMinting, resultsDocument };
