// @ts-check
'use strict';
// The restrictions every Warden scenario runs under, the check that they are as described, and
// the proof (through the decision endpoint) that Warden has them in force.

const { DECISION_PATH, ORIGINAL_REQUEST } = require('./config');
const { call } = require('./http');

/** @typedef {import('./warden').Warden} Warden */

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

/** What Node and Fastify write on any answer (bare-fastify.js's too). */
const BARE_ROUTE_HEADERS = new Set([
  'content-type',
  'content-length',
  'date',
  'connection',
  'keep-alive',
]);

/**
 * Every header of a Warden answer that a bare route does not send by itself: the security
 * headers, the request id, the rate limit's and (on the decision endpoint) the X-Warden-* ones.
 *
 * @param {Headers} headers
 * @returns {Record<string, string>}
 */
function answerHeadersOf(headers) {
  /** @type {Record<string, string>} */
  const answer = {};
  for (const [name, value] of headers) if (!BARE_ROUTE_HEADERS.has(name)) answer[name] = value;
  return answer;
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
  return {
    body: res.text,
    contentType: res.headers.get('content-type'),
    wardenHeaders,
    // For bare-decision-with-headers.
    answerHeaders: answerHeadersOf(res.headers),
  };
}

module.exports = {
  RESTRICTIONS,
  BYPASS_PROBE,
  PUBLIC_PROBE,
  checkRestrictions,
  checkDecision,
  answerHeadersOf,
};
