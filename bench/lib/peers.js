// @ts-check
'use strict';
// The servers Warden is measured against, each answering the benchmark's routes with exactly
// Warden's bodies: bare Fastify and bare NestJS (bench/bare-*.js), the NestJS guide's
// passport-jwt set-up (bench/nest-passport-jwt.js) and atlassian-connect-express
// (bench/ace-peer.js). Each is checked before it is measured.

const { randomBytes, randomUUID } = require('node:crypto');
const path = require('node:path');
const {
  BENCH_DIR,
  WHOAMI_PATH,
  DECISION_PATH,
  DECISION_WITH_HEADERS_PATH,
  ORIGINAL_HEADERS,
  CONNECT_PATH,
  CONNECT_APP_KEY,
  POSTGRES_URL,
} = require('./config');
const { run, tmpPath, freePort, spawnChild, waitForStatus, tail } = require('./children');
const { call } = require('./http');
const { checkConnectRefusals } = require('./connect');
const { createDatabase } = require('./postgres');

/** The environment of a comparison server: this process's, without NODE_OPTIONS. */
function serverEnv(/** @type {number} */ port) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1' };
  delete env.NODE_OPTIONS;
  return env;
}

/**
 * The bare server (bench/bare-fastify.js, or bench/bare-nest.js with `kind` 'nest'), answering
 * Warden's bodies; checked route by route.
 *
 * @param {string} whoamiBody
 * @param {string} decisionBody
 * @param {string | null} connectBody null without Connect
 * @param {'fastify' | 'nest'} [kind]
 * @param {Record<string, string>} [decisionHeaders] the headers of Warden's decision answer, for
 *   bare Fastify's DECISION_WITH_HEADERS_PATH
 * @returns {Promise<import('./children').Server>}
 */
async function startBare(
  whoamiBody,
  decisionBody,
  connectBody,
  kind = 'fastify',
  decisionHeaders = undefined,
) {
  const port = await freePort();
  const logFile = tmpPath(`bare-${kind}.log`);
  const env = serverEnv(port);
  env.BARE_WHOAMI = whoamiBody;
  env.BARE_DECISION = decisionBody;
  if (connectBody) env.BARE_CONNECT = connectBody;
  if (decisionHeaders) env.BARE_DECISION_HEADERS = JSON.stringify(decisionHeaders);
  env.BARE_EXIT_ON_STDIN_END = '1';
  const child = spawnChild(
    `bare-${kind}`,
    run.plan.serverCpu,
    [path.join(BENCH_DIR, `bare-${kind}.js`)],
    { env, logFile, stdin: 'pipe' },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}${WHOAMI_PATH}`, 200, child, logFile);
  // Same bytes as Warden, route by route.
  /** @type {Array<[string, string, Record<string, string>]>} */
  const routes = [
    [WHOAMI_PATH, whoamiBody, {}],
    [DECISION_PATH, decisionBody, ORIGINAL_HEADERS],
  ];
  if (connectBody) routes.push([CONNECT_PATH, connectBody, {}]);
  if (decisionHeaders) routes.push([DECISION_WITH_HEADERS_PATH, decisionBody, ORIGINAL_HEADERS]);
  for (const [route, expected, headers] of routes) {
    const res = await call('GET', `${base}${route}`, { headers });
    if (res.status !== 200 || res.text !== expected) {
      throw new Error(
        `bare ${kind} GET ${route} answered ${res.status} ${res.text}, not Warden's ${expected}`,
      );
    }
    if (route !== DECISION_WITH_HEADERS_PATH) continue;
    for (const [name, value] of Object.entries(decisionHeaders ?? {})) {
      if (res.headers.get(name) !== value)
        throw new Error(`bare ${kind} GET ${route} answered ${name}: ${res.headers.get(name)}`);
    }
  }
  return { child, base, logFile };
}

/**
 * The NestJS guide's JWT route (bench/nest-passport-jwt.js), the HS256 secret given as a string
 * or as a KeyObject (`keyKind`), answering Warden's whoami body. Answers the server and the one
 * token sent on every request (signed with jsonwebtoken, as @nestjs/jwt's JwtService does, with
 * the guide's claims), after checking that the route refuses no token and a bad signature.
 *
 * @param {string} whoamiBody
 * @param {'string' | 'keyobject'} keyKind
 * @returns {Promise<import('./children').Server & { token: string }>}
 */
async function startNestJwt(whoamiBody, keyKind) {
  const jwt = require('jsonwebtoken');
  const port = await freePort();
  const name = `nest-passport-jwt-${keyKind}`;
  const logFile = tmpPath(`${name}.log`);
  const secret = randomBytes(32).toString('base64url');
  const env = serverEnv(port);
  Object.assign(env, {
    BARE_WHOAMI: whoamiBody,
    NEST_JWT_SECRET: secret,
    NEST_JWT_KEY: keyKind,
    BARE_EXIT_ON_STDIN_END: '1',
  });
  const child = spawnChild(
    name,
    run.plan.serverCpu,
    [path.join(BENCH_DIR, 'nest-passport-jwt.js')],
    { env, logFile, stdin: 'pipe' },
  );
  const base = `http://127.0.0.1:${port}`;
  // Up once it refuses a request without a token.
  await waitForStatus(`${base}${WHOAMI_PATH}`, 401, child, logFile);
  const sign = (/** @type {string} */ key) =>
    jwt.sign({ sub: randomUUID(), username: 'admin' }, key, {
      algorithm: 'HS256',
      expiresIn: '4h',
    });
  const token = sign(secret);
  const res = await call('GET', `${base}${WHOAMI_PATH}`, { authorization: `Bearer ${token}` });
  if (res.status !== 200 || res.text !== whoamiBody) {
    throw new Error(
      `${name} GET ${WHOAMI_PATH} answered ${res.status} ${res.text.slice(0, 300)}, not Warden's ` +
        `${whoamiBody}\nIts last output:\n${tail(logFile)}`,
    );
  }
  const forged = await call('GET', `${base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${sign(randomBytes(32).toString('base64url'))}`,
  });
  if (forged.status !== 401) {
    throw new Error(`${name} took a token signed with another secret (${forged.status})`);
  }
  return { child, base, logFile, token };
}

/**
 * The contract's floor for a protected route (bench/nest-floor.js), answering Warden's whoami
 * body with Warden's answer headers on it to the opaque token made here. Answers the server and
 * that token, after checking that the route refuses no token and another one, and that its
 * answer carries every header of Warden's.
 *
 * @param {string} whoamiBody
 * @param {Record<string, string>} whoamiHeaders every header of Warden's whoami answer that a
 *   bare route does not send (its request id is the floor's own)
 * @returns {Promise<import('./children').Server & { token: string }>}
 */
async function startNestFloor(whoamiBody, whoamiHeaders) {
  const port = await freePort();
  const logFile = tmpPath('nest-floor.log');
  const token = randomBytes(32).toString('base64url');
  const env = serverEnv(port);
  Object.assign(env, {
    BARE_WHOAMI: whoamiBody,
    FLOOR_HEADERS: JSON.stringify(whoamiHeaders),
    FLOOR_TOKEN: token,
    BARE_EXIT_ON_STDIN_END: '1',
  });
  const child = spawnChild(
    'nest-floor',
    run.plan.serverCpu,
    [path.join(BENCH_DIR, 'nest-floor.js')],
    {
      env,
      logFile,
      stdin: 'pipe',
    },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}${WHOAMI_PATH}`, 401, child, logFile);
  const res = await call('GET', `${base}${WHOAMI_PATH}`, { authorization: `Bearer ${token}` });
  if (res.status !== 200 || res.text !== whoamiBody) {
    throw new Error(
      `nest-floor GET ${WHOAMI_PATH} answered ${res.status} ${res.text.slice(0, 300)}, not ` +
        `Warden's ${whoamiBody}\nIts last output:\n${tail(logFile)}`,
    );
  }
  for (const name of Object.keys(whoamiHeaders)) {
    if (!res.headers.has(name)) throw new Error(`nest-floor GET ${WHOAMI_PATH} sent no ${name}`);
  }
  const other = await call('GET', `${base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${randomBytes(32).toString('base64url')}`,
  });
  if (other.status !== 401) throw new Error(`nest-floor took another token (${other.status})`);
  return { child, base, logFile, token };
}

/**
 * The atlassian-connect-express peer (bench/ace-peer.js) on the server's core: the tenant saved
 * in ACE's store (sequelize on a PostgreSQL database of the run's own, as ACE's app template
 * runs in production), Warden's body. Checks it answers a good token with exactly Warden's body
 * and refuses the bad ones.
 *
 * @param {import('./connect').Connect} connect
 * @returns {Promise<import('./children').Server & { refused: Record<string, number> }>}
 */
async function startAce(connect) {
  const port = await freePort();
  const logFile = tmpPath('ace-peer.log');
  const env = serverEnv(port);
  env.NODE_ENV = 'production';
  Object.assign(env, {
    ACE_APP_KEY: CONNECT_APP_KEY,
    ACE_CLIENT_KEY: connect.tenant.clientKey,
    ACE_SHARED_SECRET: connect.tenant.sharedSecret,
    ACE_TENANT_BASE_URL: connect.tenant.baseUrl,
    ACE_CONNECT_BODY: connect.body,
    ACE_STORE_URL: await createDatabase('warden_bench_ace').catch((err) => {
      throw new Error(
        `the ACE peer's store needs PostgreSQL at ${POSTGRES_URL} (BENCH_POSTGRES_URL), or ` +
          `BENCH_CONNECT=0 to leave the Connect scenarios out: ${err.message}`,
      );
    }),
    ACE_EXIT_ON_STDIN_END: '1',
  });
  const child = spawnChild('ace-peer', run.plan.serverCpu, [path.join(BENCH_DIR, 'ace-peer.js')], {
    env,
    logFile,
    stdin: 'pipe',
  });
  const base = `http://127.0.0.1:${port}`;
  // Up once it refuses a request without a token.
  await waitForStatus(`${base}${CONNECT_PATH}`, 401, child, logFile);
  const res = await call('GET', `${base}${CONNECT_PATH}`, {
    authorization: `JWT ${connect.mint()}`,
  });
  if (res.status !== 200 || res.text !== connect.body) {
    throw new Error(
      `the ACE peer GET ${CONNECT_PATH} answered ${res.status} ${res.text.slice(0, 300)}, ` +
        `not Warden's ${connect.body}\nIts last output:\n${tail(logFile)}`,
    );
  }
  const refused = await checkConnectRefusals(base, connect.mint, 'the ACE peer', [400, 401]);
  return { child, base, logFile, refused };
}

module.exports = { startBare, startNestJwt, startNestFloor, startAce };
