'use strict';
// The framework's floor: NestJS on the same Fastify adapter Warden runs on, logger off, the same
// three routes answering the same bodies as bench/bare-fastify.js (from the same BARE_*
// variables), with nothing of Warden's: no guard, hooks, headers, audit or metrics. Measured
// beside bare Fastify in the same run, it says how much of the gap to bare Fastify any Nest
// application pays before it does any work.

require('reflect-metadata');
const { randomUUID } = require('node:crypto');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');

const port = Number(process.env.PORT || 3002);
const host = process.env.HOST || '127.0.0.1';
const body = (/** @type {string} */ name, /** @type {unknown} */ fallback) =>
  process.env[name] ? JSON.parse(process.env[name]) : fallback;
const whoami = body('BARE_WHOAMI', {
  id: randomUUID(),
  username: 'admin',
  groups: ['warden-admins'],
  authMethod: 'access',
});
const decision = body('BARE_DECISION', { decision: 'allow', user: 'admin', authMethod: 'access' });
const connect = body('BARE_CONNECT', { tenant: { clientKey: randomUUID() }, user: {} });

// Plain JavaScript: the decorators are applied as the TypeScript compiler would apply them.
class BareController {
  whoami() {
    return whoami;
  }
  decision() {
    return decision;
  }
  connect() {
    return connect;
  }
}
for (const [method, route] of [
  ['whoami', 'system/whoami'],
  ['decision', 'authz/decision'],
  ['connect', 'connect/whoami'],
]) {
  const descriptor = /** @type {PropertyDescriptor} */ (
    Object.getOwnPropertyDescriptor(BareController.prototype, method)
  );
  Get(route)(BareController.prototype, method, descriptor);
}
Controller()(BareController);
class BareModule {}
Module({ controllers: [BareController] })(BareModule);

async function main() {
  /** @type {import('@nestjs/platform-fastify').NestFastifyApplication} */
  const app = await NestFactory.create(BareModule, new FastifyAdapter(), { logger: false });
  if (process.env.BARE_EXIT_ON_STDIN_END === '1') {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
  }
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () =>
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      ),
    );
  }
  await app.listen({ port, host });
  process.stderr.write(
    `bare nest ${require('@nestjs/core/package.json').version} on ${host}:${port}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`bare nest failed to start: ${err.stack || err}\n`);
  process.exit(1);
});
