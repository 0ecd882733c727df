// @ts-check
'use strict';
// The credentials the scenarios send besides the admin's tokens: a personal API token and an
// external identity provider's token, each checked on /system/whoami before it is used.

const { WHOAMI_PATH } = require('./config');
const { call } = require('./http');
const { RESTRICTIONS } = require('./restrictions');
const { patchSettings } = require('./warden-settings');

/** @typedef {import('./warden').Warden} Warden */

/**
 * Creates a personal API token for the admin (POST /tokens) and checks it on /system/whoami.
 *
 * @param {Warden} warden
 */
async function createApiToken(warden) {
  const res = await call('POST', `${warden.base}/tokens`, {
    authorization: warden.basic,
    body: { name: 'bench', scopes: ['read', 'write'] },
  });
  if (res.status !== 201 || !res.json || typeof res.json.token !== 'string') {
    throw new Error(`POST /tokens answered ${res.status}: ${res.text.slice(0, 500)}`);
  }
  /** @type {{ token: string, prefix: string, scopes: string[], expiresAt: string | null }} */
  const { token, prefix, scopes, expiresAt } = res.json;
  if (!token.startsWith('wdn_')) throw new Error(`POST /tokens answered a token "${prefix}…"`);
  const check = await call('GET', `${warden.base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${token}`,
  });
  if (check.status !== 200 || !check.json || check.json.authMethod !== 'api-token') {
    throw new Error(
      `GET ${WHOAMI_PATH} with the API token answered ${check.status}: ${check.text.slice(0, 500)}`,
    );
  }
  return { token, info: { prefix, scopes, expiresAt }, whoamiBody: check.text };
}

/**
 * Configures an external identity provider in publicKey mode (a key pair made here) and signs
 * one token with it, valid for four hours; checks that Warden takes it as `external`.
 *
 * @param {Warden} warden
 */
async function configureExternal(warden) {
  const { generateKeyPairSync, sign } = require('node:crypto');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issuer = 'https://idp.bench.invalid/';
  await patchSettings(warden, {
    externalJwt: {
      enabled: true,
      mode: 'publicKey',
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
      issuer,
      audience: 'warden-bench',
      algorithms: ['RS256'],
      usernameClaim: 'sub',
      usernameRegex: null,
      groupsClaim: 'groups',
    },
  });
  const now = Math.floor(Date.now() / 1000);
  const b64 = (/** @type {unknown} */ v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({
    iss: issuer,
    aud: 'warden-bench',
    sub: 'bench-external',
    // In the first groups.apiAccess group: the group rules are checked for it (not exempt).
    groups: [RESTRICTIONS.groups.apiAccess[0]],
    iat: now,
    exp: now + 4 * 3600,
  })}`;
  const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
  const check = await call('GET', `${warden.base}${WHOAMI_PATH}`, {
    authorization: `Bearer ${token}`,
  });
  if (check.status !== 200 || !check.json || check.json.authMethod !== 'external') {
    throw new Error(
      `GET ${WHOAMI_PATH} with the external token answered ${check.status}: ${check.text.slice(0, 500)}`,
    );
  }
  return { token, whoamiBody: check.text };
}

module.exports = { createApiToken, configureExternal };
