// @ts-check
'use strict';
// Requests this process makes itself (set-up, checks, minting), and reading a JWT's claims.

/**
 * @typedef {object} Answer
 * @property {number} status
 * @property {Headers} headers
 * @property {string} text
 * @property {any} json the parsed body, null when it is not JSON
 */

/**
 * GET `url` with `authorization`; its JSON, or an error when the answer is not 200.
 *
 * @param {string} url
 * @param {string} authorization
 * @returns {Promise<any>}
 */
async function getJson(url, authorization) {
  const res = await fetch(url, {
    headers: { authorization, accept: 'application/json' },
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 500)}`);
  }
  return JSON.parse(text);
}

/**
 * One request; answers status, headers, text and (when it parses) JSON.
 *
 * @param {string} method
 * @param {string} url
 * @param {{ authorization?: string, headers?: Record<string, string>, body?: unknown }} [options]
 * @returns {Promise<Answer>}
 */
async function call(method, url, { authorization, headers = {}, body } = {}) {
  const res = await fetch(url, {
    method,
    headers: {
      accept: 'application/json',
      ...(authorization ? { authorization } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * The payload of a JWT (not verified).
 *
 * @param {string} token
 * @returns {{ exp: number, jti?: string, [claim: string]: unknown }}
 */
function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** When a JWT expires, in ms since the epoch. */
function tokenExpiry(/** @type {string} */ token) {
  return claimsOf(token).exp * 1000;
}

module.exports = { getJson, call, claimsOf, tokenExpiry };
