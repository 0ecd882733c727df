// @ts-check
'use strict';
// The child processes of a run (Warden, the comparison servers, the load generator), each pinned
// to its core with taskset when there are two, and the run's temporary directory: all stopped
// and removed when the run ends, however it ends (signals and uncaught errors included).

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { ROOT } = require('./config');

/**
 * @typedef {object} Plan where the processes run
 * @property {boolean} pinned
 * @property {number} [serverCpu] the server under test's CPU (pinned only)
 * @property {number} [loadCpu] the load generator's (and this process's) CPU (pinned only)
 * @property {string} note
 */

/** @typedef {import('node:child_process').ChildProcess & { benchName?: string }} Child */

/**
 * @typedef {object} Server a server process started for the run
 * @property {Child} child
 * @property {string} base its base URL, http://127.0.0.1:port
 * @property {string} logFile
 */

/** @type {Set<Child>} */
const children = new Set();
/** The run's temporary directory and pinning, set by prepareRun(). */
const run = {
  /** @type {string | null} */
  tmpDir: null,
  /** @type {Plan} */
  plan: { pinned: false, note: 'not planned yet' },
};
/** @type {Array<() => Promise<void>>} run after the children are stopped */
const cleanupSteps = [];
/** @type {Array<() => void>} run last, also from the exit handler */
const exitSteps = [];
/** @type {Promise<void> | null} */
let cleaningUp = null;
let interrupted = false;

/** @param {string} line */
function log(line) {
  process.stdout.write(`${line}\n`);
}

/** A path in the run's temporary directory. */
function tmpPath(/** @type {string} */ name) {
  if (!run.tmpDir) throw new Error('the run has no temporary directory yet');
  return path.join(run.tmpDir, name);
}

/** @param {() => Promise<void>} step something to undo when the run ends (after the children) */
function onCleanup(step) {
  cleanupSteps.push(step);
}

/** @param {() => void} step something to undo synchronously when the run ends, last */
function onExit(step) {
  exitSteps.push(step);
}

function killAllSync() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  children.clear();
}

function removeTmpSync() {
  if (run.tmpDir) {
    try {
      fs.rmSync(run.tmpDir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    run.tmpDir = null;
  }
}

function exitStepsSync() {
  killAllSync();
  removeTmpSync();
  for (const step of exitSteps) step();
}

/**
 * Stops every child (SIGTERM, then SIGKILL after 5 s), runs the clean-up steps and removes the
 * temporary directory. Once: later calls answer the same promise.
 */
function cleanup() {
  if (!cleaningUp) {
    cleaningUp = Promise.all([...children].map((c) => stopChild(c)))
      .then(async () => {
        for (const step of cleanupSteps) await step();
      })
      .then(exitStepsSync);
  }
  return cleaningUp;
}

/** Whether a signal ended the run (its handler then reports and sets the exit code). */
function wasInterrupted() {
  return interrupted;
}

/** @param {unknown} err */
function describeError(err) {
  return err instanceof Error && err.stack ? err.stack : String(err);
}

/** Clean-up on exit, on SIGINT / SIGTERM / SIGHUP and on uncaught errors. */
function installHandlers() {
  process.on('exit', exitStepsSync);
  for (const [signal, code] of /** @type {const} */ ([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ])) {
    process.on(signal, () => {
      if (cleaningUp) {
        killAllSync();
        process.exit(code);
      }
      interrupted = true;
      process.stderr.write(`\n${signal}: stopping the child processes…\n`);
      cleanup().finally(() => process.exit(code));
    });
  }
  for (const event of /** @type {const} */ (['uncaughtException', 'unhandledRejection'])) {
    process.on(event, (err) => {
      process.stderr.write(`Unexpected error: ${describeError(err)}\n`);
      cleanup().finally(() => process.exit(1));
    });
  }
}

/** @param {Child} child */
function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      return resolve(undefined);
    }
    const timer = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolve(undefined);
    });
    try {
      child.kill('SIGTERM');
    } catch {
      clearTimeout(timer);
      children.delete(child);
      resolve(undefined);
    }
  });
}

/**
 * The CPUs this process may use, from `taskset -cp`; unpinned when taskset is missing or allows
 * fewer than two.
 *
 * @returns {Plan}
 */
function pinningPlan() {
  const probe = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    return { pinned: false, note: 'taskset not available: processes run unpinned' };
  }
  const list = (probe.stdout.split(':').pop() || '').trim();
  /** @type {number[]} */
  const cpus = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (Number.isInteger(a)) for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) cpus.push(c);
  }
  if (cpus.length < 2) {
    return {
      pinned: false,
      note: `only ${cpus.length} CPU allowed (${list}): processes run unpinned`,
    };
  }
  return {
    pinned: true,
    serverCpu: cpus[0],
    loadCpu: cpus[1],
    note: `server under test on CPU ${cpus[0]}, load generator on CPU ${cpus[1]} (taskset)`,
  };
}

/**
 * Plans the pinning (this process moves to the load generator's core: it mints tokens through
 * Warden between runs) and makes the run's temporary directory.
 */
function prepareRun() {
  run.plan = pinningPlan();
  if (run.plan.pinned) {
    spawnSync('taskset', ['-a', '-cp', String(run.plan.loadCpu), String(process.pid)], {
      stdio: 'ignore',
    });
  }
  run.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-'));
  return run;
}

/**
 * @typedef {object} SpawnOptions
 * @property {NodeJS.ProcessEnv} [env]
 * @property {string} [logFile] stderr (and stdout unless piped) appended to it
 * @property {'ignore' | 'pipe'} [stdin] 'pipe': the child may end when this process does
 * @property {'pipe'} [stdout]
 * @property {string} [cwd]
 */

/**
 * Starts `node <args>` on `cpu` (when pinned), as a child stopped at the end of the run.
 *
 * @param {string} name
 * @param {number | undefined} cpu
 * @param {string[]} args
 * @param {SpawnOptions} [options]
 * @returns {Child}
 */
function spawnChild(name, cpu, args, { env, logFile, stdin = 'ignore', stdout, cwd = ROOT } = {}) {
  const logFd = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const command = run.plan.pinned ? 'taskset' : process.execPath;
  const argv = run.plan.pinned ? ['-c', String(cpu), process.execPath, ...args] : args;
  /** @type {Child} */
  const child = spawn(command, argv, {
    cwd,
    env: env || process.env,
    stdio: [stdin, stdout || logFd, logFd],
  });
  if (typeof logFd === 'number') fs.closeSync(logFd);
  child.benchName = name;
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Waits for a child to end and answers the last line of its stdout, parsed as JSON.
 *
 * @param {Child} child started with stdout 'pipe'
 * @param {number | null} limitMs killed after this long (a rejection), or never
 * @returns {Promise<{ code: number | null, signal: NodeJS.Signals | null, json: any, error?: Error }>}
 */
function lastJsonLine(child, limitMs) {
  let out = '';
  const stdout = /** @type {import('node:stream').Readable} */ (child.stdout);
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) => {
    const timer =
      limitMs === null
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${child.benchName} did not finish within ${limitMs / 1000} s`));
          }, limitMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return resolve({ code, signal, json: null });
      try {
        resolve({ code, signal, json: JSON.parse(out.trim().split('\n').pop() || '') });
      } catch (err) {
        resolve({ code, signal, json: null, error: /** @type {Error} */ (err) });
      }
    });
  });
}

/** The last lines of a log file. */
function tail(/** @type {string} */ file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

/** @returns {Promise<number>} a TCP port free on 127.0.0.1 just now */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until `url` answers `status`; fails early, with the child's last output, if it exits.
 *
 * @param {string} url
 * @param {number} status
 * @param {Child} child
 * @param {string} logFile
 */
async function waitForStatus(url, status, child, logFile, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${child.benchName} exited (${child.exitCode ?? child.signalCode}) before ${url} answered.\n` +
          `Its last output:\n${tail(logFile)}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === status) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      const e = /** @type {Error & { cause?: { code?: string, message?: string } }} */ (err);
      last = e.cause ? e.cause.code || e.cause.message || String(e.cause) : e.message;
    }
    await sleep(200);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs / 1000} s (last: ${last})`);
}

/**
 * Throws, with its last output, when a server has exited.
 *
 * @param {Server} server
 * @param {string} name
 */
function checkServerAlive(server, name) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(
      `${name} exited (${server.child.exitCode ?? server.child.signalCode}) during the benchmark.\n` +
        `Its last output:\n${tail(server.logFile)}`,
    );
  }
}

module.exports = {
  run,
  log,
  tmpPath,
  onCleanup,
  onExit,
  cleanup,
  wasInterrupted,
  describeError,
  installHandlers,
  stopChild,
  pinningPlan,
  prepareRun,
  spawnChild,
  lastJsonLine,
  tail,
  freePort,
  sleep,
  waitForStatus,
  checkServerAlive,
};
