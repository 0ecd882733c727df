// @ts-check
'use strict';
// Warden at another git ref (BENCH_PEER_REF, e.g. the commit before a change), measured beside
// the current build in the same run: its Warden scenarios run as `peer:<scenario>`, each right
// after the current one in every round, against the same bare baselines, so that a change's
// effect is read side by side (req/s, p99, server CPU per request) with the machine's noise
// hitting both alike.
//
// The ref is checked out in a temporary git worktree (`git worktree add --detach`), next to the
// current node_modules (a symlink) when every package the ref's package-lock.json pins is
// installed here at that version, else with its own `npm install --no-audit --no-fund`; it is
// built with its own `nest build` (tsconfig of the ref; the operator console is not built, it
// plays no part in the hot path), started from its own dist/ with the same environment, admin,
// settings and restrictions as the current Warden, on a SQLite database of its own, and given
// its own tokens, minted the same way. The worktree is removed when the run ends, failed or not.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const PEER_PREFIX = 'peer:';
// The Warden scenarios measured on the peer too (the ones a change to the hot path moves).
const PEER_SCENARIOS = [
  'access-token-seen',
  'api-token-seen',
  'access-token-new',
  'decision-seen',
  'decision-new',
  'connect-new',
];
// Packages the ref's lock pins that differ here, listed in the output (the rest are counted).
const MISMATCHES_SHOWN = 5;

/** The ref to measure beside the current build; null when BENCH_PEER_REF is unset (no peer). */
function peerRef() {
  const ref = (process.env.BENCH_PEER_REF || '').trim();
  return ref === '' ? null : ref;
}

const peerName = (/** @type {string} */ scenario) => `${PEER_PREFIX}${scenario}`;
const isPeer = (/** @type {string} */ scenario) => scenario.startsWith(PEER_PREFIX);
/** `peer:x` → `x`; any other name unchanged. */
const currentOf = (/** @type {string} */ scenario) =>
  isPeer(scenario) ? scenario.slice(PEER_PREFIX.length) : scenario;

/**
 * The scenario list with `peer:<scenario>` inserted right after each of PEER_SCENARIOS (same
 * route, credential kind and baseline, on the `peer` server), so that each pair runs back to
 * back in every round. Unchanged without a ref.
 *
 * @template T
 * @param {Record<string, T>} specs
 * @param {string | null} ref
 * @returns {Record<string, T>}
 */
function withPeerScenarios(specs, ref) {
  if (!ref) return specs;
  /** @type {Record<string, T>} */
  const out = {};
  for (const [name, spec] of Object.entries(specs)) {
    out[name] = spec;
    if (PEER_SCENARIOS.includes(name)) out[peerName(name)] = { ...spec, server: 'peer' };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The worktree, its node_modules, its build

/** @type {{ root: string, dir: string, linked: string | null } | null} */
let worktree = null;
/** Build and install processes started here, each in its own process group. */
const running = new Set();

/**
 * @param {string} root
 * @param {string[]} args
 */
function git(root, args) {
  const res = spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    const why = res.error ? res.error.message : res.stderr.trim();
    throw new Error(`git ${args.join(' ')} failed: ${why}`);
  }
  return res.stdout.trim();
}

/**
 * Runs a command to its end in `cwd`, its output to `logFile`; rejects on a non-zero exit with the
 * log's last lines.
 *
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, logFile: string, env?: NodeJS.ProcessEnv }} options
 * @returns {Promise<number>} seconds it took
 */
function runToEnd(command, args, { cwd, logFile, env }) {
  const started = Date.now();
  const fd = fs.openSync(logFile, 'a');
  // Its own process group: npm and the compiler start children of their own, all stopped with it.
  const child = spawn(command, args, {
    cwd,
    env: env || process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  fs.closeSync(fd);
  running.add(child);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      running.delete(child);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      running.delete(child);
      if (code === 0) return resolve((Date.now() - started) / 1000);
      const last = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-25).join('\n');
      reject(
        new Error(`${command} ${args.join(' ')} in ${cwd} failed (${code ?? signal}):\n${last}`),
      );
    });
  });
}

/**
 * What the ref's package-lock.json pins that the node_modules at `root` does not hold at that
 * version: `path version` for each, empty when the current node_modules serves the ref as it is.
 * Optional packages not installed here (other platforms' binaries) are left out, as npm would
 * leave them out too. Null when the ref has no lock to compare (then it gets its own install).
 *
 * @param {string} lockText the ref's package-lock.json
 * @param {string} root
 * @returns {string[] | null}
 */
function lockDifferences(lockText, root) {
  /** @type {{ packages?: Record<string, { version?: string, optional?: boolean, link?: boolean }> }} */
  let lock;
  try {
    lock = JSON.parse(lockText);
  } catch {
    return null;
  }
  if (!lock.packages) return null;
  const differences = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (where === '' || !where.includes('node_modules/')) continue;
    let installed = null;
    try {
      installed = JSON.parse(fs.readFileSync(path.join(root, where, 'package.json'), 'utf8'));
    } catch {
      /* not installed here */
    }
    if (!installed) {
      if (!entry.optional) differences.push(`${where} ${entry.version || '(link)'} (missing)`);
    } else if (!entry.link && installed.version !== entry.version) {
      differences.push(`${where} ${entry.version} (here ${installed.version})`);
    }
  }
  return differences;
}

/**
 * Checks out `ref` in a temporary worktree of the repository at `root`, gives it node_modules
 * and builds it (the install's and build's output to `logDir`). Removed by removePeerSync()
 * (run.js calls it on every way out).
 *
 * @param {{ root: string, ref: string, logDir: string, log: (line: string) => void }} options
 */
async function preparePeer({ root, ref, logDir, log }) {
  const resolved = spawnSync(
    'git',
    ['-C', root, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`],
    {
      encoding: 'utf8',
    },
  );
  if (resolved.status !== 0) {
    throw new Error(`BENCH_PEER_REF: ${ref} names no commit of the repository at ${root}`);
  }
  const commit = resolved.stdout.trim();
  const subject = git(root, ['log', '-1', '--format=%s', commit]);
  const head = git(root, ['rev-parse', 'HEAD']);
  const dirty = git(root, ['status', '--porcelain', '--untracked-files=no']) !== '';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-peer-'));
  const logFile = path.join(logDir, 'peer-build.log');
  worktree = { root, dir, linked: null };
  log(`Peer: ${ref} is ${commit.slice(0, 12)} "${subject}"; checking it out in ${dir}…`);
  git(root, ['worktree', 'add', '--detach', dir, commit]);

  const refLock = spawnSync('git', ['-C', root, 'show', `${commit}:package-lock.json`], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const differences = refLock.status === 0 ? lockDifferences(refLock.stdout, root) : null;
  /** @type {{ mode: 'linked' | 'installed', seconds: number, differences: string[] | null }} */
  const nodeModules = { mode: 'linked', seconds: 0, differences };
  if (differences && differences.length === 0) {
    const target = path.join(root, 'node_modules');
    fs.symlinkSync(target, path.join(dir, 'node_modules'), 'dir');
    worktree.linked = path.join(dir, 'node_modules');
    log(`  node_modules: the current one (every package its lock pins is installed here)`);
  } else {
    const why = differences
      ? `its lock pins ${differences.length} package(s) not installed here: ` +
        differences.slice(0, MISMATCHES_SHOWN).join(', ') +
        (differences.length > MISMATCHES_SHOWN ? ', …' : '')
      : 'no package-lock.json to compare';
    log(`  node_modules: ${why}; npm install --no-audit --no-fund there (log ${logFile})…`);
    nodeModules.mode = 'installed';
    nodeModules.seconds = await runToEnd('npm', ['install', '--no-audit', '--no-fund'], {
      cwd: dir,
      logFile,
    });
    log(`  installed in ${nodeModules.seconds.toFixed(0)} s`);
  }

  // The ref's own Nest CLI and tsconfig (what `npx nest build` runs there), without npx's wrapper
  // process; the operator console's build step is left out (not on the hot path, and older refs
  // have none).
  const nestCli = path.join(dir, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  log(`  building it (nest build, its tsconfig; log ${logFile})…`);
  const buildSeconds = fs.existsSync(nestCli)
    ? await runToEnd(process.execPath, [nestCli, 'build'], { cwd: dir, logFile, env })
    : await runToEnd('npx', ['nest', 'build'], { cwd: dir, logFile, env });
  const main = path.join(dir, 'dist', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`the peer's build made no ${main}`);
  log(`  built in ${buildSeconds.toFixed(0)} s`);
  return {
    ref,
    commit,
    subject,
    // What "current" is: HEAD, and whether tracked files differ from it (the change measured).
    current: { commit: head, dirty },
    dir,
    nodeModules,
    buildSeconds,
    logFile,
  };
}

/**
 * Stops any install or build still running and removes the worktree (git worktree remove --force,
 * then whatever is left of the folder). Safe to call more than once and from an exit handler.
 */
function removePeerSync() {
  for (const child of running) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  running.clear();
  if (!worktree) return;
  const { root, dir, linked } = worktree;
  worktree = null;
  // The link first, so that nothing that follows can reach the current node_modules through it.
  if (linked) fs.rmSync(linked, { force: true });
  spawnSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
  fs.rmSync(dir, { recursive: true, force: true });
  spawnSync('git', ['-C', root, 'worktree', 'prune'], { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------------
// The peer Warden, set up as the current one

/**
 * @typedef {object} PeerContext
 * @property {(options: object) => Promise<any>} startWarden bench/lib/warden.js's, with `root` and `name`
 * @property {object} wardenOptions the options the current Warden was started with
 * @property {(warden: any) => Promise<any>} configureSettings
 * @property {(warden: any, token: string) => Promise<any>} checkDecision
 * @property {(warden: any) => Promise<any>} createApiToken
 * @property {((warden: any, keys: any) => Promise<any>) | null} installConnect null without Connect
 * @property {new (warden: any, chains: number) => any} Minter
 * @property {number} mintChains
 * @property {(method: string, url: string, options?: object) => Promise<any>} call
 * @property {(line: string) => void} log
 * @property {string} whoamiPath
 */

/**
 * Starts the built peer from its own dist/ (its own data directory and SQLite database), with
 * the current Warden's environment, admin, settings and restrictions, and makes its credentials:
 * a minter of access tokens on its own sessions, a personal API token, and (with Connect) a
 * tenant installed through the same keys server. Checks, as for the current Warden, that it
 * takes an access token on the protected route and that its restrictions are in force.
 *
 * @param {PeerContext} ctx
 * @param {Awaited<ReturnType<typeof preparePeer>>} build
 * @param {any} keys the install keys server (still open), or null
 */
async function startPeer(ctx, build, keys) {
  const label = `the peer (${build.ref})`;
  try {
    const warden = await ctx.startWarden({
      ...ctx.wardenOptions,
      name: 'warden-peer',
      root: build.dir,
    });
    const settings = await ctx.configureSettings(warden);
    const minter = new ctx.Minter(warden, ctx.mintChains);
    const token = (await minter.mint(1)).tokens[0];
    const whoami = await ctx.call('GET', `${warden.base}${ctx.whoamiPath}`, {
      authorization: `Bearer ${token}`,
    });
    if (whoami.status !== 200 || !whoami.json || whoami.json.authMethod !== 'access') {
      throw new Error(`GET ${ctx.whoamiPath} answered ${whoami.status}: ${whoami.text}`);
    }
    const decision = await ctx.checkDecision(warden, token);
    const apiToken = await ctx.createApiToken(warden);
    const connect = keys && ctx.installConnect ? await ctx.installConnect(warden, keys) : null;
    ctx.log(
      `Peer Warden ${build.commit.slice(0, 12)} is up on ${warden.base} (same settings and ` +
        `restrictions, in force: ${ctx.whoamiPath} answers ${whoami.text}, the decision ` +
        `${decision.body}; API token ${apiToken.info.prefix}…` +
        (connect ? `; Connect tenant installed, bad tokens refused` : '') +
        ')',
    );
    return { warden, settings, minter, apiToken, connect, whoamiBody: whoami.text, decision };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${label}: ${message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

/**
 * @typedef {{ scenario: string, rps: number | null, p99Ms: number | null, cpuUs: number | null,
 *   ratio: number | null, result: string }} Row
 */

/**
 * Each peer scenario against its current one: the change of the current build against the peer,
 * in percent, of the median req/s, p99 and server CPU per request (and of req/s round by round,
 * the two runs of a round being back to back).
 *
 * @param {Row[]} summary
 * @param {Record<string, Array<{ rps: number }>>} runs
 */
function comparePeers(summary, runs) {
  const change = (/** @type {number | null} */ now, /** @type {number | null} */ peer) =>
    now !== null && peer ? (now / peer - 1) * 100 : null;
  return summary
    .filter((row) => isPeer(row.scenario))
    .map((peer) => {
      const scenario = currentOf(peer.scenario);
      const now = summary.find((row) => row.scenario === scenario);
      if (!now) return null;
      const peerRuns = runs[peer.scenario] || [];
      return {
        scenario,
        rps: { current: now.rps, peer: peer.rps, changePercent: change(now.rps, peer.rps) },
        ratioToBare: { current: now.ratio, peer: peer.ratio },
        p99Ms: {
          current: now.p99Ms,
          peer: peer.p99Ms,
          changePercent: change(now.p99Ms, peer.p99Ms),
        },
        cpuUsPerRequest: {
          current: now.cpuUs,
          peer: peer.cpuUs,
          changePercent: change(now.cpuUs, peer.cpuUs),
        },
        rpsChangePerRoundPercent: (runs[scenario] || []).map((r, i) =>
          change(r.rps, peerRuns[i] ? peerRuns[i].rps : null),
        ),
        result: now.result === 'ERROR' || peer.result === 'ERROR' ? 'ERROR' : '-',
      };
    })
    .filter((row) => row !== null);
}

/**
 * @param {ReturnType<typeof comparePeers>} rows
 * @param {Awaited<ReturnType<typeof preparePeer>>} build
 * @param {(line: string) => void} log
 */
function printPeerComparison(rows, build, log) {
  const pct = (/** @type {number | null} */ v) =>
    v === null ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(1)} %`;
  const num = (/** @type {number | null} */ v, digits = 0) =>
    v === null ? '-' : v.toFixed(digits);
  const current = `${build.current.commit.slice(0, 12)}${build.current.dirty ? ' + uncommitted changes' : ''}`;
  log(
    `Current build (${current}) against ${build.ref} (${build.commit.slice(0, 12)} ` +
      `"${build.subject}"), same rounds, medians; change = current vs peer (req/s: + is faster; ` +
      `p99 and CPU per request: - is better):`,
  );
  const header = [
    'scenario',
    'req/s now',
    'req/s peer',
    'req/s',
    'req/s by round',
    'p99 ms now/peer',
    'p99',
    'CPU µs/req now/peer',
    'CPU/req',
  ];
  const body = rows.map((r) => [
    r.scenario,
    num(r.rps.current),
    num(r.rps.peer),
    pct(r.rps.changePercent),
    r.rpsChangePerRoundPercent.map((v) => (v === null ? '-' : String(Math.round(v)))).join('/'),
    `${num(r.p99Ms.current, 2)}/${num(r.p99Ms.peer, 2)}`,
    pct(r.p99Ms.changePercent),
    `${num(r.cpuUsPerRequest.current, 1)}/${num(r.cpuUsPerRequest.peer, 1)}`,
    pct(r.cpuUsPerRequest.changePercent) + (r.result === 'ERROR' ? '  ERROR' : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  log('');
  log(line(header));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) log(line(row));
  log('');
}

module.exports = {
  PEER_SCENARIOS,
  peerRef,
  peerName,
  isPeer,
  currentOf,
  withPeerScenarios,
  lockDifferences,
  preparePeer,
  removePeerSync,
  startPeer,
  comparePeers,
  printPeerComparison,
};
