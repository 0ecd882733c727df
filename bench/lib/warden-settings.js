// @ts-check
'use strict';
// Warden's settings through its admin API: the settings every Warden scenario runs under, and
// the changes some of them make (audit on or off, an identity provider).

const { ACCESS_TTL_SECONDS, RATE_LIMIT } = require('./config');
const { log } = require('./children');
const { call } = require('./http');
const { RESTRICTIONS, checkRestrictions } = require('./restrictions');

/** @typedef {import('./warden').Warden} Warden */

/** @typedef {Awaited<ReturnType<typeof configureSettings>>} Settings */

/**
 * Settings for minting: refresh-token rotation off (GET /system/reauth then signs one access
 * token and the refresh token can be reused) and access tokens that live ACCESS_TTL_SECONDS, so
 * that the tokens of every round can be minted once; a per-credential rate-limit budget no run
 * can reach (RATE_LIMIT); and every restriction configured (RESTRICTIONS). JSON merge patch with
 * If-Match (arrays are replaced, other fields of each section kept); a "lockout" conflict is
 * repeated with force=true, a lost race (412) read again. Checks that the answer holds it all.
 *
 * @param {Warden} warden
 */
async function configureSettings(warden) {
  checkRestrictions();
  const url = `${warden.base}/admin/settings`;
  for (let attempt = 1; ; attempt++) {
    const read = await call('GET', url, { authorization: warden.basic });
    const etag = read.headers.get('etag');
    if (read.status !== 200 || !etag || !read.json || !read.json.tokens) {
      throw new Error(
        `GET /admin/settings answered ${read.status} (ETag ${etag}): ${read.text.slice(0, 500)}`,
      );
    }
    const current = read.json.tokens;
    /** @type {{ rotateRefreshTokens: boolean, accessTtlSeconds?: number, refreshTtlSeconds?: number }} */
    const tokens = { rotateRefreshTokens: false };
    const accessTtl = Math.max(current.accessTtlSeconds, ACCESS_TTL_SECONDS);
    if (accessTtl !== current.accessTtlSeconds) tokens.accessTtlSeconds = accessTtl;
    if (current.refreshTtlSeconds < accessTtl) tokens.refreshTtlSeconds = accessTtl;
    /** @type {Record<string, unknown>} */
    const body = { tokens, ...structuredClone(RESTRICTIONS) };
    const limit = read.json.rateLimit;
    const perSecond = (/** @type {{ requests: number, windowSeconds: number }} */ l) =>
      l.requests / l.windowSeconds;
    if (limit && perSecond(limit) < perSecond(RATE_LIMIT)) body.rateLimit = { ...RATE_LIMIT };
    const patch = (/** @type {boolean} */ force) =>
      call('PATCH', force ? `${url}?force=true` : url, {
        authorization: warden.basic,
        headers: { 'if-match': etag },
        body,
      });
    let res = await patch(false);
    let forced = false;
    if (res.status === 409 && res.json && res.json.code === 'lockout') {
      log(`  PATCH /admin/settings: ${res.json.detail || 'lockout'}; repeating with force=true`);
      forced = true;
      res = await patch(true);
    }
    if (res.status === 412 && attempt < 3) continue; // changed under us: read again
    if (res.status !== 200 || !res.json || !res.json.tokens) {
      throw new Error(`PATCH /admin/settings answered ${res.status}: ${res.text.slice(0, 500)}`);
    }
    const applied = res.json.tokens;
    if (applied.rotateRefreshTokens !== false || applied.accessTtlSeconds < accessTtl) {
      throw new Error(`PATCH /admin/settings did not apply: tokens are ${JSON.stringify(applied)}`);
    }
    for (const [section, fields] of Object.entries(RESTRICTIONS)) {
      for (const [field, value] of Object.entries(fields)) {
        const got = res.json[section] && res.json[section][field];
        if (JSON.stringify(got) !== JSON.stringify(value)) {
          throw new Error(
            `PATCH /admin/settings did not apply ${section}.${field}: got ${JSON.stringify(got)}`,
          );
        }
      }
    }
    if (!res.json.rateLimit || !res.json.rateLimit.enabled) {
      throw new Error(`the rate limit is off: ${JSON.stringify(res.json.rateLimit)}`);
    }
    return {
      before: current,
      after: applied,
      rateLimitBefore: limit || null,
      rateLimitAfter: res.json.rateLimit || null,
      patch: body,
      forced,
      documentBefore: read.json,
      documentAfter: res.json,
      etag: res.headers.get('etag'),
    };
  }
}

/**
 * PATCH /admin/settings with If-Match (read again on a lost race); answers the new document.
 *
 * @param {Warden} warden
 * @param {Record<string, unknown>} body a JSON merge patch
 * @returns {Promise<any>}
 */
async function patchSettings(warden, body) {
  const url = `${warden.base}/admin/settings`;
  for (let attempt = 1; ; attempt++) {
    const read = await call('GET', url, { authorization: warden.basic });
    const res = await call('PATCH', `${url}?force=true`, {
      authorization: warden.basic,
      headers: { 'if-match': read.headers.get('etag') || '' },
      body,
    });
    if (res.status === 412 && attempt < 3) continue;
    if (res.status !== 200) {
      throw new Error(`PATCH /admin/settings answered ${res.status}: ${res.text.slice(0, 500)}`);
    }
    return res.json;
  }
}

/** settings.audit.enabled, checked. */
async function setAudit(/** @type {Warden} */ warden, /** @type {boolean} */ enabled) {
  const doc = await patchSettings(warden, { audit: { enabled } });
  if (doc.audit.enabled !== enabled) throw new Error(`audit.enabled is still ${!enabled}`);
}

module.exports = { configureSettings, patchSettings, setAudit };
