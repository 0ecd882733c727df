// @ts-check
'use strict';
// Atlassian Connect: the install keys server, the signed install of a made-up tenant in Warden,
// and the checks that a Connect route refuses bad tokens.

const { generateKeyPairSync, randomBytes, randomUUID } = require('node:crypto');
const http = require('node:http');
const {
  CONNECT_PATH,
  CONNECT_APP_KEY,
  CONNECT_TENANT_BASE_URL,
  connectTokenTtl,
} = require('./config');
const { call } = require('./http');
const { installToken, requestTokenMinter, qsh } = require('../connect-jwt');

/**
 * @typedef {object} KeysServer
 * @property {import('node:crypto').KeyObject} privateKey
 * @property {string} kid
 * @property {string} url
 * @property {number} requests answered so far
 * @property {http.Server} server
 */

/**
 * @typedef {(claims?: Record<string, unknown>, secret?: Buffer | string) => string} ConnectMint
 *   a fresh request token for the benchmark's Connect route (claims and secret overridable)
 */

/** @typedef {Awaited<ReturnType<typeof installConnect>>} Connect */

/**
 * The public keys of signed installs, as Atlassian publishes them: GET /{kid} answers the PEM
 * text of an RSA public key (one 2048-bit key pair made here). Served by this process on
 * 127.0.0.1; Warden's CONNECT_KEYS_URL points at it. Counts the requests it answered.
 *
 * @returns {Promise<KeysServer>}
 */
async function startKeysServer() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `warden-bench-${randomBytes(8).toString('hex')}`;
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  let requests = 0;
  const server = http.createServer((req, res) => {
    keys.requests = ++requests;
    if (req.method === 'GET' && req.url === `/${kid}`) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(pem);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such key\n');
    }
  });
  /** @type {KeysServer} */
  const keys = { privateKey, kid, url: '', requests, server };
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(undefined));
  });
  keys.url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`;
  return keys;
}

/**
 * Installs a made-up Jira tenant in Warden the way the host does (POST /connect/installed with
 * an RS256 install token whose key Warden fetches from the keys server), then checks that
 * GET /connect/whoami takes a fresh request token (200, JSON) and refuses bad ones. Answers the
 * tenant, a minter of request tokens for the benchmark's route, and Warden's body.
 *
 * @param {import('./warden').Warden} warden
 * @param {KeysServer} keys
 */
async function installConnect(warden, keys) {
  const tenant = {
    clientKey: `warden-bench-${randomUUID()}`,
    // Atlassian's shared secrets are 44 characters or more; Warden asks for at least 32.
    sharedSecret: randomBytes(33).toString('base64url'),
    baseUrl: CONNECT_TENANT_BASE_URL,
    accountId: `712020:${randomUUID()}`,
  };
  const install = {
    key: CONNECT_APP_KEY,
    clientKey: tenant.clientKey,
    sharedSecret: tenant.sharedSecret,
    baseUrl: tenant.baseUrl,
    displayUrl: tenant.baseUrl,
    productType: 'jira',
    description: 'Warden benchmark tenant',
    eventType: 'installed',
  };
  const res = await call('POST', `${warden.base}/connect/installed`, {
    authorization: `JWT ${installToken({
      privateKey: keys.privateKey,
      kid: keys.kid,
      clientKey: tenant.clientKey,
      audience: warden.base,
    })}`,
    body: install,
  });
  if (res.status < 200 || res.status > 299) {
    throw new Error(
      `POST /connect/installed answered ${res.status}: ${res.text.slice(0, 500)}` +
        ` (the keys server answered ${keys.requests} request(s))`,
    );
  }
  const installStatus = res.status;
  /** @type {ConnectMint} */
  const mint = requestTokenMinter({
    clientKey: tenant.clientKey,
    sharedSecret: tenant.sharedSecret,
    accountId: tenant.accountId,
    method: 'GET',
    path: CONNECT_PATH,
    ttlSeconds: connectTokenTtl(),
  });
  const whoami = await call('GET', `${warden.base}${CONNECT_PATH}`, {
    authorization: `JWT ${mint()}`,
  });
  if (whoami.status !== 200 || !whoami.json) {
    throw new Error(
      `Warden GET ${CONNECT_PATH} with a Connect token answered ${whoami.status}: ` +
        whoami.text.slice(0, 500),
    );
  }
  const refused = await checkConnectRefusals(warden.base, mint, 'Warden', [401]);
  return {
    tenant,
    mint,
    body: whoami.text,
    contentType: whoami.headers.get('content-type'),
    install: { status: installStatus, keysServerRequests: keys.requests, kid: keys.kid },
    refused,
  };
}

/**
 * Bad Connect tokens on `base`'s Connect route: another signing secret, a query hash for another
 * request, an unknown issuer, an expired token, and none at all. Each must be refused with one
 * of `statuses` (atlassian-connect-express answers 400 for a bad signature, 401 otherwise).
 * Answers the status per case.
 *
 * @param {string} base
 * @param {ConnectMint} mint
 * @param {string} name
 * @param {number[]} statuses
 */
async function checkConnectRefusals(base, mint, name, statuses) {
  const now = Math.floor(Date.now() / 1000);
  /** @type {Record<string, string | null>} */
  const cases = {
    'bad signature': mint({}, randomBytes(32)),
    'query hash of another request': mint({ qsh: qsh('GET', '/connect/other') }),
    'unknown issuer': mint({ iss: `unknown-${randomUUID()}` }),
    expired: mint({ iat: now - 600, exp: now - 400 }),
    'no token': null,
  };
  /** @type {Record<string, number>} */
  const refused = {};
  for (const [label, token] of Object.entries(cases)) {
    const res = await call('GET', `${base}${CONNECT_PATH}`, {
      authorization: token === null ? undefined : `JWT ${token}`,
    });
    refused[label] = res.status;
    if (!statuses.includes(res.status)) {
      throw new Error(
        `${name} GET ${CONNECT_PATH} with ${label === 'no token' ? 'no token' : `a token with ${label}`}` +
          ` answered ${res.status} (expected ${statuses.join(' or ')}): ${res.text.slice(0, 300)}`,
      );
    }
  }
  return refused;
}

module.exports = { startKeysServer, installConnect, checkConnectRefusals };
