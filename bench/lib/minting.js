// @ts-check
'use strict';
// Tokens for the load runs: access tokens minted through Warden (GET /system/reauth), one seen
// token per `seen` scenario, files of never-seen tokens sized on each scenario's measured rate
// (one file per scenario and round, each token in exactly one file), and Connect request tokens
// minted here just before their run.

const fs = require('node:fs');
const {
  WARMUP_SECONDS,
  RUN_OVERHEAD_SECONDS,
  EXPIRY_MARGIN_SECONDS,
  TOKEN_HEADROOM,
  MINT_SESSIONS,
  config,
} = require('./config');
const { log, tmpPath } = require('./children');
const { getJson, claimsOf, tokenExpiry } = require('./http');
const { SCENARIO_SPECS, FRESH_SCENARIOS } = require('./scenarios');

/**
 * Mints never-seen access tokens with GET /system/reauth: `chains` requests in flight, each chain
 * reusing its session's refresh token (with rotation off a refresh token stays valid and each
 * answer is one fresh access token, a new jti). The chains share MINT_SESSIONS logins. Should
 * reauth still rotate (the settings not taken), each session is one chain following its rotated
 * refresh token, at two signatures per token.
 */
class Minter {
  /**
   * @param {import('./warden').Warden} warden
   * @param {number} chains
   */
  constructor(warden, chains) {
    this.warden = warden;
    this.size = chains;
    /** @type {Array<{ refresh: string }>} one per login */
    this.sessions = [];
    /** @type {boolean | null} learnt from the first answer */
    this.rotating = null;
    /** every jti handed out in this benchmark: none may come twice */
    this.jtis = new Set();
  }

  /** @param {{ refresh: string }} session */
  async reauth(session) {
    const pair = await getJson(`${this.warden.base}/system/reauth`, `Bearer ${session.refresh}`);
    if (!pair.authentication)
      throw new Error(`reauth answered no access token: ${JSON.stringify(pair)}`);
    if (pair.refresh) session.refresh = pair.refresh;
    return pair;
  }

  /**
   * @param {number} count
   * @returns {Promise<{ tokens: string[], minExpiry: number }>}
   */
  async mint(count) {
    /** @type {string[]} */
    const tokens = [];
    if (this.rotating === null) {
      const logins = Math.min(this.size, MINT_SESSIONS);
      for (let i = 0; i < logins; i++) {
        const pair = await getJson(`${this.warden.base}/system/auth`, this.warden.basic);
        this.sessions.push({ refresh: pair.refresh });
      }
      // One request first, to learn whether reauth rotates: shared refresh tokens need it not to.
      const pair = await this.reauth(this.sessions[0]);
      tokens.push(pair.authentication);
      this.rotating = Boolean(pair.refresh);
      if (this.rotating)
        log(
          `  WARNING: reauth still rotates refresh tokens: minting with ${logins} chains, ` +
            'two signatures per token',
        );
    }
    const chains = this.rotating
      ? this.sessions
      : Array.from({ length: this.size }, (_, i) => this.sessions[i % this.sessions.length]);
    let remaining = count - tokens.length;
    /** @type {unknown} */
    let failure = null;
    await Promise.all(
      chains.map(async (session) => {
        while (remaining > 0 && !failure) {
          remaining--;
          try {
            tokens.push((await this.reauth(session)).authentication);
          } catch (err) {
            failure = failure || err;
          }
        }
      }),
    );
    if (failure) throw failure;
    let minExpiry = Infinity;
    for (const token of tokens) {
      const claims = claimsOf(token);
      if (this.jtis.has(claims.jti)) throw new Error('reauth handed out a token twice');
      this.jtis.add(claims.jti);
      minExpiry = Math.min(minExpiry, claims.exp * 1000);
    }
    return { tokens, minExpiry };
  }
}

/**
 * Where a scenario's credentials come from: the current Warden's, or the peer's.
 *
 * @typedef {object} Credentials
 * @property {Minter} minter
 * @property {{ token: string }} apiToken
 * @property {import('./connect').Connect | null} connect
 */

/** @typedef {{ file: string, count: number, warm: number, minExpiry?: number }} Batch */

/**
 * One seen token per `seen` scenario, each sent on every request of its own scenario only.
 */
class SeenTokens {
  /** @param {(scenario: string) => Credentials} credentialsOf */
  constructor(credentialsOf) {
    this.credentialsOf = credentialsOf;
    /** @type {Record<string, string>} */
    this.tokens = {};
  }

  /** Mints the scenarios' seen tokens (those of the current Warden, or the peer's). */
  async mintFor(/** @type {Iterable<string>} */ scenarios) {
    for (const s of scenarios) {
      if (SCENARIO_SPECS[s].credential === 'seen')
        this.tokens[s] = (await this.credentialsOf(s).minter.mint(1)).tokens[0];
    }
  }

  /** Same token for a whole run; replaced (between runs) only if it would expire mid-run. */
  async ensure(/** @type {string} */ scenario) {
    const margin = (WARMUP_SECONDS + config.duration + 60) * 1000;
    if (tokenExpiry(this.tokens[scenario]) - Date.now() < margin) {
      this.tokens[scenario] = (await this.credentialsOf(scenario).minter.mint(1)).tokens[0];
    }
  }

  get(/** @type {string} */ scenario) {
    return this.tokens[scenario];
  }
}

/**
 * @typedef {object} MintRecord one minting of access tokens
 * @property {string} purpose
 * @property {boolean} calibration
 * @property {number[]} rounds
 * @property {number} tokens
 * @property {number} seconds
 * @property {number} perSecond
 * @property {number} signaturesPerToken
 * @property {number} chains
 * @property {number} sessions
 * @property {true} [peer]
 */

/**
 * Files of never-seen tokens: access tokens for the `fresh` scenarios (minted through Warden, for
 * as many rounds at once as their lifetime allows) and Connect tokens (minted here, per run).
 * Each file is read by one run only and removed once spent.
 */
class TokenFiles {
  /**
   * @param {Minter} minter the current Warden's
   * @param {(scenario: string) => Credentials} credentialsOf
   * @param {number} accessTtlSeconds access tokens' lifetime, as Warden's settings say
   * @param {number} scenarioCount runs per round
   */
  constructor(minter, credentialsOf, accessTtlSeconds, scenarioCount) {
    this.minter = minter;
    this.credentialsOf = credentialsOf;
    this.accessTtlSeconds = accessTtlSeconds;
    this.roundSeconds = scenarioCount * (WARMUP_SECONDS + config.duration + RUN_OVERHEAD_SECONDS);
    /** @type {Map<string, Batch>} `${scenario} ${round}` → its file */
    this.batches = new Map();
    /** @type {Record<string, number>} token-file scenario → expected req/s */
    this.estimates = {};
    /** @type {number | null} tokens/s of the last mint */
    this.mintRate = null;
    /** @type {MintRecord[]} */
    this.mints = [];
    /** @type {Array<{ scenario: string, purpose: string, tokens: number, warm: number, seconds: number }>} */
    this.connectMints = [];
  }

  /**
   * Tokens for one run at `estimateRps`: the measured run's and the warm-up's.
   *
   * @param {number} estimateRps
   */
  budgetFor(estimateRps, headroom = TOKEN_HEADROOM) {
    const measured = Math.min(
      config.maxTokens,
      Math.max(config.connections * 10, Math.ceil(estimateRps * config.duration * headroom)),
    );
    const warm = Math.min(
      // The warm-up only has to warm the verification path: a quarter of the cap is plenty.
      Math.max(config.connections * 4, Math.ceil(config.maxTokens / 4)),
      Math.max(config.connections * 2, Math.ceil(estimateRps * WARMUP_SECONDS * headroom)),
    );
    return { measured, warm };
  }

  /**
   * Connect request tokens, minted here (HMAC-SHA256 over the tenant's shared secret, a new
   * random jti each) into one file for one run, just before that run: they live
   * connectTokenTtl() seconds, as the host's do.
   *
   * @param {string} scenario
   * @param {string} label
   * @param {{ warm: number, measured: number }} budget
   * @returns {Batch}
   */
  mintConnectBatch(scenario, label, { warm, measured }) {
    const count = warm + measured;
    const t0 = process.hrtime.bigint();
    const tokens = new Array(count);
    const connect = this.credentialsOf(scenario).connect;
    if (!connect) throw new Error(`${scenario}: no Connect tenant`);
    for (let i = 0; i < count; i++) tokens[i] = connect.mint();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const file = tmpPath(`tokens-${scenario}-${label}.txt`);
    fs.writeFileSync(file, tokens.join('\n') + '\n');
    this.connectMints.push({ scenario, purpose: label, tokens: count, warm, seconds });
    return { file, count, warm };
  }

  /**
   * @param {number} count
   * @param {Minter} from the minter of the Warden that takes them (the current one or the peer)
   */
  async mintTokens(count, from = this.minter) {
    const t0 = Date.now();
    const minted = await from.mint(count);
    return { ...minted, seconds: (Date.now() - t0) / 1000 };
  }

  /**
   * @param {string} purpose
   * @param {number[]} rounds
   * @param {number} tokens
   * @param {number} seconds
   */
  recordMint(purpose, rounds, tokens, seconds, calibration = false, from = this.minter) {
    /** @type {MintRecord} */
    const entry = {
      purpose,
      calibration,
      rounds,
      tokens,
      seconds,
      perSecond: tokens / seconds,
      signaturesPerToken: from.rotating ? 2 : 1,
      chains: from.rotating ? from.sessions.length : config.mintChains,
      sessions: from.sessions.length,
      ...(from === this.minter ? {} : { peer: /** @type {true} */ (true) }),
    };
    this.mints.push(entry);
    this.mintRate = entry.perSecond;
    log(
      `  minted ${tokens} fresh access tokens (${purpose}) in ${seconds.toFixed(1)} s ` +
        `(${entry.perSecond.toFixed(0)}/s, ${entry.chains} chains on ${entry.sessions} sessions, ` +
        `${entry.signaturesPerToken} signature(s) each) via GET /system/reauth`,
    );
  }

  /**
   * Rounds, from `round` on, whose tokens can all be minted now and still be alive when used.
   *
   * @param {number} round
   * @param {number} perRound tokens per round
   */
  roundsThatFit(round, perRound) {
    for (let k = config.rounds - round + 1; k > 1; k--) {
      const mintSeconds = (k * perRound) / (this.mintRate || 100);
      if (mintSeconds + k * this.roundSeconds + EXPIRY_MARGIN_SECONDS <= this.accessTtlSeconds)
        return k;
    }
    return 1;
  }

  /**
   * Mints one run's tokens for `scenario` (sized on its estimate) into its own file.
   *
   * @param {string} scenario
   * @param {number} round
   */
  async mintBatch(scenario, round, suffix = '') {
    const budget = this.budgetFor(this.estimates[scenario]);
    const { tokens, minExpiry, seconds } = await this.mintTokens(
      budget.warm + budget.measured,
      this.credentialsOf(scenario).minter,
    );
    const file = tmpPath(`tokens-${scenario}-${round}${suffix}.txt`);
    fs.writeFileSync(file, tokens.join('\n') + '\n');
    this.batches.set(batchKey(scenario, round), {
      file,
      count: tokens.length,
      warm: budget.warm,
      minExpiry,
    });
    return { budget, count: tokens.length, seconds };
  }

  /**
   * The fresh-token scenarios' files for as many rounds from `from` on as their lifetime allows
   * (all of them, normally), minted at once; nothing when round `from` has its files already.
   *
   * @param {number} from
   */
  async mintRounds(from) {
    if (FRESH_SCENARIOS.length === 0 || this.batches.has(batchKey(FRESH_SCENARIOS[0], from)))
      return;
    const perRound = FRESH_SCENARIOS.reduce((sum, scenario) => {
      const b = this.budgetFor(this.estimates[scenario]);
      return sum + b.warm + b.measured;
    }, 0);
    const count = this.roundsThatFit(from, perRound);
    const list = Array.from({ length: count }, (_, i) => from + i);
    let total = 0;
    let seconds = 0;
    /** @type {Record<string, string>} */
    const sizes = {};
    for (const round of list) {
      for (const scenario of FRESH_SCENARIOS) {
        const minted = await this.mintBatch(scenario, round);
        sizes[scenario] = `${minted.budget.warm} warm-up + ${minted.budget.measured} measured`;
        total += minted.count;
        seconds += minted.seconds;
      }
    }
    const label = list.length === 1 ? `round ${from}` : `rounds ${from}-${from + list.length - 1}`;
    this.recordMint(
      `${label}: ${list.length} x (${Object.entries(sizes)
        .map(([scenario, size]) => `${scenario} ${size}`)
        .join('; ')})`,
      list,
      total,
      seconds,
    );
  }

  /**
   * A `fresh` scenario's own tokens for `round`, never sent before; minted again when they would
   * expire during its run.
   *
   * @param {string} scenario
   * @param {number} round
   * @returns {Promise<Batch>}
   */
  async freshBatch(scenario, round) {
    const batch = /** @type {Batch} */ (this.batches.get(batchKey(scenario, round)));
    const runEnds = Date.now() + (WARMUP_SECONDS + config.duration + 30) * 1000;
    if (/** @type {number} */ (batch.minExpiry) >= runEnds) return batch;
    log(`  tokens minted for ${scenario} would expire during its run: minting them again`);
    fs.rmSync(batch.file, { force: true });
    this.batches.delete(batchKey(scenario, round));
    const minted = await this.mintBatch(scenario, round, '-again');
    this.recordMint(
      `${scenario} round ${round} (again)`,
      [round],
      minted.count,
      minted.seconds,
      false,
      this.credentialsOf(scenario).minter,
    );
    return /** @type {Batch} */ (this.batches.get(batchKey(scenario, round)));
  }

  /**
   * A run's file is spent: nothing reads it again.
   *
   * @param {string} scenario
   * @param {number} round
   * @param {Batch} batch
   */
  spent(scenario, round, batch) {
    fs.rmSync(batch.file, { force: true });
    this.batches.delete(batchKey(scenario, round));
  }
}

const batchKey = (/** @type {string} */ scenario, /** @type {number} */ round) =>
  `${scenario} ${round}`;

module.exports = { Minter, SeenTokens, TokenFiles };
