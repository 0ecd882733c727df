// @ts-check
'use strict';
// Atlassian Connect JWTs as a host product sends them, for bench/run.js: HS256 request tokens
// over a tenant's shared secret, and the RS256 token of a signed install callback.

const { createHash, createHmac, randomUUID, sign } = require('node:crypto');

const b64 = (/** @type {unknown} */ value) =>
  Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Connect's query string hash of a request without query parameters (besides `jwt`): SHA-256
 * (hex) of the canonical request `METHOD&path&`, the path relative to the app's base URL.
 *
 * @param {string} method
 * @param {string} path
 */
function qsh(method, path) {
  return createHash('sha256').update(`${method.toUpperCase()}&${path}&`).digest('hex');
}

/**
 * A minter of request tokens for one tenant and one request (method, path): each token has its
 * own random `jti`, `iat` now and `exp` `ttlSeconds` later, `iss` the client key, `sub` the
 * account id, and is signed with HMAC-SHA256 keyed with the shared secret's UTF-8 bytes.
 *
 * @param {{ clientKey: string, sharedSecret: string, accountId: string, method: string,
 *   path: string, ttlSeconds: number }} tenantAndRequest
 * @returns {(overrides?: Record<string, unknown>, secret?: Buffer | string) => string}
 */
function requestTokenMinter({ clientKey, sharedSecret, accountId, method, path, ttlSeconds }) {
  const header = b64({ alg: 'HS256', typ: 'JWT' });
  const key = Buffer.from(sharedSecret, 'utf8');
  const hash = qsh(method, path);
  // `overrides` replace claims; `secret` another signing key (both for negative checks).
  return (overrides = {}, secret = /** @type {Buffer | string} */ (key)) => {
    const iat = Math.floor(Date.now() / 1000);
    const input = `${header}.${b64({
      iss: clientKey,
      sub: accountId,
      iat,
      exp: iat + ttlSeconds,
      qsh: hash,
      jti: randomUUID(),
      ...overrides,
    })}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
}

/**
 * The token of a signed install callback: RS256 with the install key (`kid` names its public
 * key at the keys server), `iss` the client key, `aud` the app's base URL, valid 180 s, `qsh`
 * of `POST&/connect/installed&` (or another path).
 *
 * @param {{ privateKey: import('node:crypto').KeyObject, kid: string, clientKey: string,
 *   audience: string, path?: string }} install
 */
function installToken({ privateKey, kid, clientKey, audience, path = '/connect/installed' }) {
  const iat = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid })}.${b64({
    iss: clientKey,
    aud: audience,
    iat,
    exp: iat + 180,
    qsh: qsh('POST', path),
  })}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/** The payload of a token (not verified). */
function claimsOf(/** @type {string} */ token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

module.exports = { qsh, requestTokenMinter, installToken, claimsOf };
