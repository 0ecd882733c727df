// @ts-check
'use strict';
// The Atlassian Connect peer: an express app protected by atlassian-connect-express (ACE), the
// library most Connect apps on Node.js are built with, run by bench/run.js beside Warden and the
// bare Fastify server. One route, GET /connect/whoami, behind `addon.authenticate()`, answering
// the JSON body given in ACE_CONNECT_BODY (run.js passes Warden's own answer: same bytes).
//
// ACE keeps its tenants in a store and reads the tenant named by each token's `iss` from it on
// every request. Here the store is ACE's sequelize adapter on PostgreSQL (ACE_STORE_URL, a
// database of the run's own), as ACE's app template configures production, holding one tenant:
// ACE_CLIENT_KEY, ACE_SHARED_SECRET, ACE_TENANT_BASE_URL, saved through the store as an install
// would save it.
//
// Env: PORT, HOST (127.0.0.1), ACE_CLIENT_KEY, ACE_SHARED_SECRET, ACE_TENANT_BASE_URL,
// ACE_CONNECT_BODY, ACE_APP_KEY (warden), ACE_STORE_URL, ACE_EXIT_ON_STDIN_END=1 (exit when
// the parent's stdin pipe closes).

const express = require('express');
const ace = require('atlassian-connect-express');

const port = Number(process.env.PORT || 3002);
const host = process.env.HOST || '127.0.0.1';
const localBaseUrl = `http://${host}:${port}`;
const appKey = process.env.ACE_APP_KEY || 'warden';
const storeUrl = required('ACE_STORE_URL');
const tenant = {
  clientKey: required('ACE_CLIENT_KEY'),
  sharedSecret: required('ACE_SHARED_SECRET'),
  baseUrl: required('ACE_TENANT_BASE_URL'),
};
const body =
  process.env.ACE_CONNECT_BODY ||
  JSON.stringify({
    tenant: { clientKey: tenant.clientKey, baseUrl: tenant.baseUrl, productType: 'jira' },
    user: { accountId: 'unknown' },
  });

/** @param {string} name */
function required(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`ace-peer: ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const app = express();
// ACE reads its mode from express: production (no descriptor file watch, no dev-only logging).
app.set('env', 'production');
// Express computes an ETag per response by default; neither Warden nor the bare server does.
app.set('etag', false);
app.disable('x-powered-by');

const addon = ace(
  app,
  {
    // ACE reads more options than its types list (appKey, the store's `logging` for sequelize).
    config: /** @type {any} */ ({
      production: {
        localBaseUrl,
        appKey,
        product: 'jira',
        store: { adapter: 'sequelize', type: 'postgres', url: storeUrl, logging: false },
        // Nothing is read from disk: the descriptor is built here (ACE otherwise loads
        // atlassian-connect.json from the working directory).
        descriptorTransformer: (/** @type {Record<string, unknown>} */ descriptor) => ({
          ...descriptor,
          key: appKey,
          name: 'Warden benchmark peer',
          baseUrl: localBaseUrl,
          apiVersion: 1,
          authentication: { type: 'jwt' },
          lifecycle: { installed: '/installed' },
          scopes: ['READ'],
        }),
      },
    }),
  },
  undefined,
  {},
  () => start().catch(fail),
);

// The set-up ACE's own app template uses: body parsers (ACE looks for the token in the query and
// the parsed body before the Authorization header, and needs req.body present) and ACE's
// request middleware.
app.use(express.json());
app.use(express.urlencoded({ extended: false }));
app.use(addon.middleware());
app.get('/connect/whoami', addon.authenticate(), (_req, res) => {
  res.type('application/json').send(body);
});

/** @type {import('node:http').Server | null} */
let server = null;

async function start() {
  // The tenant as an install stores it, through ACE's own store adapter.
  await addon.settings.saveInstallation(
    /** @type {import('atlassian-connect-express').ClientInfo} */ ({
      key: appKey,
      clientKey: tenant.clientKey,
      sharedSecret: tenant.sharedSecret,
      baseUrl: tenant.baseUrl,
      productType: 'jira',
      description: 'Warden benchmark tenant',
      eventType: 'installed',
    }),
    tenant.clientKey,
  );
  const stored = /** @type {{ sharedSecret?: string } | null} */ (
    await addon.settings.get('clientInfo', tenant.clientKey)
  );
  if (!stored || stored.sharedSecret !== tenant.sharedSecret) {
    throw new Error('the tenant could not be read back from the store');
  }
  await new Promise((resolve, reject) => {
    const listening = app.listen(port, host, () => resolve(undefined));
    listening.once('error', reject);
    server = listening;
  });
  process.stderr.write(
    `ace-peer: atlassian-connect-express ${require('atlassian-connect-express/package.json').version}` +
      ` (express ${require('express/package.json').version}, store sequelize/postgres)` +
      ` on ${localBaseUrl}\n`,
  );
}

/** @param {any} err */
function fail(err) {
  process.stderr.write(`ace-peer failed to start: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

/** @param {number} code */
async function stop(code) {
  try {
    if (server) {
      const open = server;
      const closed = new Promise((resolve) => open.close(resolve));
      open.closeIdleConnections();
      await closed;
    }
    await addon.schema.close();
  } catch {
    /* exiting anyway */
  }
  process.exit(code);
}

// Started by bench/run.js with a stdin pipe: when the orchestrator goes away, so do we.
if (process.env.ACE_EXIT_ON_STDIN_END === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => void stop(0));
