'use strict';
// The baseline: the same fastify package Warden runs on, logger off, three routes answering what
// Warden answers for GET /system/whoami, for GET /authz/decision (the decision endpoint, asked
// about an allowed request) and for GET /connect/whoami (a Connect-authenticated route).
// bench/run.js passes Warden's actual response bodies in BARE_WHOAMI, BARE_DECISION and
// BARE_CONNECT so both servers send the same bytes; without them made-up ones of the same shape
// are used. Only the bodies: the decision's X-Warden-* headers are not sent there. With
// BARE_DECISION_HEADERS (the headers of Warden's decision answer, as JSON), a fourth route,
// GET /authz/decision-with-headers, answers the decision body with those headers too: what the
// answer's headers alone cost a server that does nothing else.

const { randomUUID } = require('node:crypto');
const fastify = require('fastify');

const port = Number(process.env.PORT || 3001);
const host = process.env.HOST || '127.0.0.1';
const whoami = process.env.BARE_WHOAMI
  ? JSON.parse(process.env.BARE_WHOAMI)
  : { id: randomUUID(), username: 'admin', groups: ['warden-admins'], authMethod: 'access' };

const decision = process.env.BARE_DECISION
  ? JSON.parse(process.env.BARE_DECISION)
  : { decision: 'allow', user: 'admin', authMethod: 'access' };

const connect = process.env.BARE_CONNECT
  ? JSON.parse(process.env.BARE_CONNECT)
  : {
      tenant: {
        clientKey: randomUUID(),
        baseUrl: 'https://bench.example.com',
        productType: 'jira',
      },
      user: { accountId: randomUUID() },
    };

const app = fastify({ logger: false });
app.get('/system/whoami', async () => whoami);
app.get('/authz/decision', async () => decision);
app.get('/connect/whoami', async () => connect);
if (process.env.BARE_DECISION_HEADERS) {
  const headers = JSON.parse(process.env.BARE_DECISION_HEADERS);
  app.get('/authz/decision-with-headers', async (_request, reply) => {
    reply.headers(headers);
    return decision;
  });
}

// Started by bench/run.js with a stdin pipe: when the orchestrator goes away, so do we.
if (process.env.BARE_EXIT_ON_STDIN_END === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

app.listen({ port, host }).then(
  () =>
    process.stderr.write(
      `bare fastify ${require('fastify/package.json').version} on ${host}:${port}\n`,
    ),
  (err) => {
    process.stderr.write(`bare fastify failed to start: ${err.stack || err}\n`);
    process.exit(1);
  },
);
