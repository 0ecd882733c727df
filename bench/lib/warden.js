// @ts-check
'use strict';
// Warden under test: started from dist/ with a clean environment and a fresh data directory,
// then configured through its admin API as every Warden scenario runs it (settings for minting,
// all restrictions, an API token, an external identity provider), with checks that it all took.

const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const {
  ROOT,
  WHOAMI_PATH,
  DECISION_PATH,
  ORIGINAL_REQUEST,
  ACCESS_TTL_SECONDS,
  RATE_LIMIT,
  WARDEN_NODE_ARGS,
} = require('./config');
const { run, log, tmpPath, freePort, spawnChild, waitForStatus } = require('./children');
const { call } = require('./http');

/**
 * @typedef {import('./children').Server & { basic: string }} Warden a Warden process, with the
 *   admin's Basic credentials
 */

// All restrictions configured, for every Warden scenario: a 50-entry address allow-list, 20
// group rules, 20 path patterns. None of it may match (or refuse) what the benchmark sends, so
// every request is judged in full: its address is looked up in the allow-list, its path walks
// every bypass and public pattern without a match, and it is authenticated.
//  - ip.allow: 48 ranges and addresses, IPv4 and IPv6, none holding 127.0.0.1 or ::1, then the
//    loopback ranges last (the benchmark client is 127.0.0.1: its first look-up walks all 50).
//  - groups: 10 apiAccess + 10 readOnly group names (none need exist; the admin, a member of
//    warden-admins, is exempt from group rules, so they are never refused for it).
//  - bypass.paths, publicApis.paths: 10 patterns each (GET or any method, so each pattern's
//    regular expression is tried), none matching a path the benchmark uses (checked below and,
//    through Warden's answers, at start).
const IRRELEVANT_ADDRESSES = [
  '10.0.0.0/8',
  '2001:db8::/32',
  '172.16.0.0/12',
  'fd00::/8',
  '192.168.0.0/16',
  'fe80::/10',
  '192.0.2.0/24',
  '2001:db8:1::/48',
  '198.51.100.0/24',
  '2001:db8:2::/48',
  '203.0.113.0/24',
  '2001:db8:3:4::/64',
  '100.64.0.0/10',
  '2001:db8::1',
  '198.18.0.0/15',
  '2001:db8::2',
  '192.0.2.10',
  '2001:db8:abcd::/48',
  '192.0.2.11',
  'fc00:1234::/32',
  '203.0.113.7',
  '2001:db8:ffff::1',
  '203.0.113.128/25',
  '2001:db8:5::/48',
  ...Array.from({ length: 12 }, (_, i) => [
    `10.${i + 20}.${i * 7}.0/24`,
    `2001:db8:${(0x100 + i).toString(16)}::/48`,
  ]).flat(),
];
const RESTRICTIONS = {
  ip: { allow: [...IRRELEVANT_ADDRESSES, '::1/128', '127.0.0.0/8'] },
  groups: {
    apiAccess: [
      'jira-api-users',
      'confluence-api-users',
      'ci-robots',
      'integration-bots',
      'reporting',
      'partners-api',
      'mobile-apps',
      'data-export',
      'sre-automation',
      'qa-automation',
    ],
    readOnly: [
      'auditors',
      'contractors',
      'interns',
      'read-only-users',
      'viewers',
      'external-reviewers',
      'support-tier1',
      'finance-readers',
      'legal-readers',
      'guest-accounts',
    ],
  },
  bypass: {
    paths: [
      'GET /status/**',
      '/static/*/assets/**',
      '/favicon.ico',
      '/robots.txt',
      'GET /s/*/_/download/**',
      'GET /images/**',
      '/ping',
      'GET /rest/api/2/serverInfo',
      '/healthcheck/**',
      'GET /system/health',
    ],
  },
  publicApis: {
    paths: [
      'GET /rest/api/*/serverInfo',
      'GET /rest/api/2/project/*/avatar/**',
      'GET /rest/api/2/issue/*/attachments/public',
      '/public/**',
      'GET /docs/**',
      '/rest/plugins/1.0/public/**',
      'GET /wiki/rest/api/space/*/public',
      'GET /openapi.json',
      '/rest/gadget/1.0/login',
      'GET /rest/api/latest/application-properties/public',
    ],
  },
};
// Answered without credentials once the settings are in force: proof they are.
const BYPASS_PROBE = '/status/bench';
const PUBLIC_PROBE = '/public/bench';

/**
 * Starts Warden from `root`/dist (another checkout for the peer, bench/peer-warden.js) on a free
 * port, with only the environment set here (nothing from the caller's shell may change its
 * config), and waits until it is live.
 *
 * @param {object} [options]
 * @param {string} [options.name] names its data directory and log
 * @param {string} [options.databaseUrl] SQLite in its data directory unless given
 * @param {(base: string) => Record<string, string>} [options.extraEnv] more environment, given
 *   its base URL (http://127.0.0.1:port)
 * @param {string} [options.root]
 * @returns {Promise<Warden>}
 */
async function startWarden({ name = 'warden', databaseUrl, extraEnv, root = ROOT } = {}) {
  const dataDir = tmpPath(`${name}-data`);
  fs.mkdirSync(dataDir);
  const port = await freePort();
  const password = randomBytes(24).toString('base64url');
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      /^(WARDEN_|CMJ_|CONNECT_|UPSTREAM_)/.test(key) ||
      [
        'PORT',
        'HOST',
        'DATABASE_URL',
        'REDIS_URL',
        'LOG_LEVEL',
        'NODE_ENV',
        'NODE_OPTIONS',
      ].includes(key)
    )
      continue;
    env[key] = value;
  }
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    WARDEN_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl || `sqlite:${path.join(dataDir, 'warden.sqlite')}`,
    WARDEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    WARDEN_ADMIN_USERNAME: 'admin',
    WARDEN_ADMIN_PASSWORD: password,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  });
  if (extraEnv) Object.assign(env, extraEnv(`http://127.0.0.1:${port}`));
  const logFile = tmpPath(`${name}.log`);
  const child = spawnChild(
    name,
    run.plan.serverCpu,
    [...WARDEN_NODE_ARGS, path.join(root, 'dist', 'main.js')],
    { env, logFile, cwd: root },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/health/live`, 200, child, logFile);
  return {
    child,
    base,
    logFile,
    basic: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
  };
}

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

/** RESTRICTIONS as described: 50 addresses of which only the loopback ones hold the client, 20+20. */
function checkRestrictions() {
  const ipaddr = require('ipaddr.js');
  const { allow } = RESTRICTIONS.ip;
  const counts = [
    allow.length,
    RESTRICTIONS.groups.apiAccess.length + RESTRICTIONS.groups.readOnly.length,
    RESTRICTIONS.bypass.paths.length + RESTRICTIONS.publicApis.paths.length,
  ];
  if (counts.join() !== '50,20,20' || new Set(allow).size !== allow.length) {
    throw new Error(`RESTRICTIONS: expected 50 addresses, 20 groups, 20 paths; got ${counts}`);
  }
  const clients = ['127.0.0.1', '::1'].map((a) => ipaddr.parse(a));
  for (const entry of IRRELEVANT_ADDRESSES) {
    const [range, bits] = entry.includes('/')
      ? ipaddr.parseCIDR(entry)
      : [ipaddr.parse(entry), entry.includes(':') ? 128 : 32];
    for (const client of clients) {
      if (client.kind() === range.kind() && client.match(range, bits))
        throw new Error(`RESTRICTIONS: ${entry} holds ${client}`);
    }
  }
}

/**
 * Proof that the restrictions are in force and judge the benchmark's requests in full: the
 * decision endpoint lets a bypass and a public path through without credentials (so the lists
 * are live), and names the caller for the benchmark's original request (matched by no pattern,
 * address allowed, group rules passed). Answers Warden's decision body for the bare server.
 *
 * @param {Warden} warden
 * @param {string} token an access token of the admin
 */
async function checkDecision(warden, token) {
  const ask = (/** @type {string} */ uri, /** @type {string | undefined} */ authorization) =>
    call('GET', `${warden.base}${DECISION_PATH}`, {
      authorization,
      headers: { 'x-original-method': ORIGINAL_REQUEST.method, 'x-original-uri': uri },
    });
  for (const [uri, reason] of [
    [BYPASS_PROBE, 'bypass'],
    [PUBLIC_PROBE, 'public'],
  ]) {
    const res = await ask(uri, undefined);
    if (res.status !== 200 || !res.json || res.json.reason !== reason) {
      throw new Error(
        `GET ${DECISION_PATH} for ${ORIGINAL_REQUEST.method} ${uri} without credentials ` +
          `answered ${res.status} ${res.text.slice(0, 300)} (expected 200, reason "${reason}")`,
      );
    }
  }
  const res = await ask(ORIGINAL_REQUEST.uri, `Bearer ${token}`);
  const user = res.headers.get('x-warden-user');
  if (
    res.status !== 200 ||
    !res.json ||
    res.json.decision !== 'allow' ||
    res.json.authMethod !== 'access' ||
    res.json.user !== 'admin' ||
    user !== 'admin'
  ) {
    throw new Error(
      `GET ${DECISION_PATH} for ${ORIGINAL_REQUEST.method} ${ORIGINAL_REQUEST.uri} answered ` +
        `${res.status} (X-Warden-User ${user}): ${res.text.slice(0, 500)}`,
    );
  }
  /** @type {Record<string, string>} */
  const wardenHeaders = {};
  for (const [name, value] of res.headers)
    if (name.startsWith('x-warden-')) wardenHeaders[name] = value;
  return { body: res.text, contentType: res.headers.get('content-type'), wardenHeaders };
}

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

/**
 * One of Warden's counters from GET /metrics (Prometheus text), by metric name; null if absent.
 *
 * @param {Warden} warden
 * @param {string} name
 */
async function metricValue(warden, name) {
  const res = await call('GET', `${warden.base}/metrics`);
  const line = res.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : null;
}

/** @typedef {{ seconds: Record<string, number>, heapUsed: number | null }} GcSnapshot */

/**
 * Warden's garbage collection so far (seconds, by kind: minor, major, incremental, weakcb) and its
 * heap in use (bytes), from the default Node.js metrics.
 *
 * @param {Warden} warden
 * @returns {Promise<GcSnapshot>}
 */
async function gcSnapshot(warden) {
  const res = await call('GET', `${warden.base}/metrics`);
  /** @type {GcSnapshot} */
  const snapshot = { seconds: {}, heapUsed: null };
  for (const line of res.text.split('\n')) {
    const gc = /^warden_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)/.exec(line);
    if (gc) snapshot.seconds[gc[1]] = Number(gc[2]);
    else if (line.startsWith('warden_nodejs_heap_size_used_bytes '))
      snapshot.heapUsed = Number(line.split(' ')[1]);
  }
  return snapshot;
}

/**
 * Milliseconds of collection between two snapshots, by kind.
 *
 * @param {GcSnapshot} before
 * @param {GcSnapshot} after
 */
function gcSpent(before, after) {
  /** @type {Record<string, number>} */
  const spent = {};
  for (const [kind, seconds] of Object.entries(after.seconds))
    spent[kind] = (seconds - (before.seconds[kind] ?? 0)) * 1000;
  return spent;
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

module.exports = {
  RESTRICTIONS,
  BYPASS_PROBE,
  PUBLIC_PROBE,
  startWarden,
  configureSettings,
  checkDecision,
  createApiToken,
  patchSettings,
  setAudit,
  metricValue,
  gcSnapshot,
  gcSpent,
  configureExternal,
};
