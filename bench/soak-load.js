// @ts-check
'use strict';
// Load generator of the soak (bench/soak.js), run in its own process (pinned to its own core).
// Usage: node bench/soak-load.js <spec.json>
//
// For `seconds` seconds, every request is one of a fixed rotation of kinds, each sent with its
// own varying parts so that every bounded cache of Warden's keeps taking new keys:
//
//   whoami      GET /system/whoami, the next access token of the pool (the pool holds more
//               tokens than the verified-token cache: each one is a miss that evicts)
//   decision    GET /authz/decision about /rest/api/2/issue/SOAK-<n>, the next pool token
//   public      GET /authz/decision about /public/soak-<n>, no credentials (rate limited by the
//               client address)
//   connect     GET /connect/whoami?page=<n>, a fresh Connect JWT over that query (qsh cache)
//   garbage     GET /system/whoami with a random, malformed bearer token (401)
//
// Each request also names a random client address in 127.0.0.0/8 in X-Forwarded-For (Warden
// trusts the loopback proxy by default): the address caches see new keys all the time.
//
// Prints one JSON line per `progressSeconds` ({"progress": {seconds, requests}}), then one
// {"result": {...}} line with the statuses per kind.

const { createHash, createHmac, randomBytes, randomUUID } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
const autocannon = require('autocannon');

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
process.stdin.on('end', () => process.exit(2));
process.stdin.on('error', () => process.exit(2));
process.stdin.resume();

const tokens = readFileSync(spec.tokensFile, 'utf8').split('\n').filter(Boolean);
const rotation = ['whoami', 'decision', 'whoami', 'public', 'decision', 'garbage'];
if (spec.connect) rotation.push('connect', 'connect');
/** @type {Record<string, Record<string, number>>} answers by kind of request, by status */
const statuses = Object.fromEntries(rotation.map((k) => [k, {}]));
let sent = 0;
let nextToken = 0;
let answered = 0;

const randomInt = (/** @type {number} */ n) => Math.floor(Math.random() * n);
const clientAddress = () => `127.${randomInt(256)}.${randomInt(256)}.${1 + randomInt(254)}`;
const b64 = (/** @type {unknown} */ value) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

/** A Connect request token for GET /connect/whoami?page=<page> (bench/connect-jwt.js's shape). */
/** @param {number} page */
function connectToken(page) {
  const { clientKey, sharedSecret, accountId, path } = spec.connect;
  const iat = Math.floor(Date.now() / 1000);
  const qsh = createHash('sha256').update(`GET&${path}&page=${page}`).digest('hex');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    iss: clientKey,
    sub: accountId,
    iat,
    exp: iat + 180,
    qsh,
    jti: randomUUID(),
  })}`;
  return `${input}.${createHmac('sha256', sharedSecret).update(input).digest('base64url')}`;
}

/**
 * @param {{ method?: string, path?: string, headers?: Record<string, string> }} req
 * @param {{ kind?: string }} context
 */
function setupRequest(req, context) {
  const kind = rotation[sent++ % rotation.length];
  context.kind = kind;
  /** @type {Record<string, string>} */
  const headers = { 'x-forwarded-for': clientAddress() };
  const n = randomInt(1_000_000);
  switch (kind) {
    case 'whoami':
      req.path = '/system/whoami';
      headers.authorization = `Bearer ${tokens[nextToken++ % tokens.length]}`;
      break;
    case 'decision':
      req.path = '/authz/decision';
      headers.authorization = `Bearer ${tokens[nextToken++ % tokens.length]}`;
      headers['x-original-method'] = 'GET';
      headers['x-original-uri'] = `/rest/api/2/issue/SOAK-${n}`;
      break;
    case 'public':
      req.path = '/authz/decision';
      headers['x-original-method'] = 'GET';
      headers['x-original-uri'] = `/public/soak-${n}`;
      break;
    case 'connect':
      req.path = `${spec.connect.path}?page=${n}`;
      headers.authorization = `JWT ${connectToken(n)}`;
      break;
    case 'garbage':
      req.path = '/system/whoami';
      headers.authorization = `Bearer ${randomBytes(24).toString('base64url')}`;
      break;
  }
  req.method = 'GET';
  req.headers = headers;
  return req;
}

/**
 * @param {number} status
 * @param {unknown} _body
 * @param {{ kind: string }} context
 */
function onResponse(status, _body, context) {
  const byStatus = statuses[context.kind];
  byStatus[status] = (byStatus[status] || 0) + 1;
  answered++;
}

const startedAt = performance.now();
const instance = autocannon(
  {
    url: spec.base,
    connections: spec.connections,
    duration: spec.seconds,
    timeout: 10,
    requests: [{ setupRequest, onResponse }],
  },
  (/** @type {any} */ err, /** @type {any} */ result) => {
    clearInterval(progress);
    if (err) {
      process.stderr.write(`soak-load.js: ${err.stack || err}\n`);
      process.exit(1);
    }
    const seconds = (performance.now() - startedAt) / 1000;
    process.stdout.write(
      `${JSON.stringify({
        result: {
          seconds: Math.round(seconds * 10) / 10,
          requests: answered,
          rps: Math.round(answered / seconds),
          errors: result.errors,
          timeouts: result.timeouts,
          statuses,
          tokensInPool: tokens.length,
        },
      })}\n`,
    );
    process.exit(0);
  },
);
instance.on('error', (/** @type {any} */ err) =>
  process.stderr.write(`soak-load.js: ${err.stack || err}\n`),
);
const progress = setInterval(
  () =>
    process.stdout.write(
      `${JSON.stringify({
        progress: {
          seconds: Math.round((performance.now() - startedAt) / 100) / 10,
          requests: answered,
        },
      })}\n`,
    ),
  (spec.progressSeconds || 10) * 1000,
);
