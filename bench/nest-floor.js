'use strict';
// The contract's floor for a protected route: NestJS on the same Fastify adapter, logger off
// (as bench/bare-nest.js), doing the least a protected route must do for a token seen
// before, and nothing else:
//  - a global guard that takes the bearer token's SHA-256 digest, finds the caller by it in a
//    Map and counts the request against the caller's rate limit;
//  - every header of Warden's own answer on the same route (security headers, RateLimit-*,
//    X-Request-Id from a counter), set by one onSend hook;
//  - an audit row for the request, with its status, written by Warden's own audit writer to a
//    SQLite database migrated with Warden's own migrations (batches of 500 rows or every 100 ms).
// No settings, no restrictions, no metrics, no checks of the request's text. Warden answering
// the same route is measured against it in the same run: what a protected route costs beyond
// this is Warden's own judging.

require('reflect-metadata');
const { hash, randomUUID } = require('node:crypto');
const { Controller, Get, Injectable, Module, UnauthorizedException } = require('@nestjs/common');
const { APP_GUARD, NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');
const { openAuditWriter } = require('./lib/audit-writer');

const port = Number(process.env.PORT || 3003);
const host = process.env.HOST || '127.0.0.1';
const whoami = JSON.parse(/** @type {string} */ (process.env.BARE_WHOAMI));
/** @type {Record<string, string>} Warden's answer headers on the route, but its request id. */
const headers = JSON.parse(/** @type {string} */ (process.env.FLOOR_HEADERS));
const token = /** @type {string} */ (process.env.FLOOR_TOKEN);
const credentialId = randomUUID();
/** The one caller, by its token's digest (Warden keys its remembered tokens the same way). */
const callers = new Map([[hash('sha256', token, 'base64'), { credentialId, username: 'admin' }]]);
/** @type {Map<string, number>} requests per credential (a window that never ends: the bench's
 * budget is never spent, as it is not on Warden's). */
const counted = new Map();

/**
 * @typedef {{ headers: Record<string, string | string[] | undefined>, url: string, method: string,
 *   ip: string, id: string, auditRow?: Record<string, unknown> }} FloorRequest
 */

class FloorGuard {
  /** @param {import('@nestjs/common').ExecutionContext} context */
  canActivate(context) {
    /** @type {FloorRequest} */
    const request = context.switchToHttp().getRequest();
    const authorization = request.headers.authorization;
    const caller =
      typeof authorization === 'string' && authorization.startsWith('Bearer ')
        ? callers.get(hash('sha256', authorization.slice(7), 'base64'))
        : undefined;
    if (!caller) throw new UnauthorizedException();
    counted.set(caller.credentialId, (counted.get(caller.credentialId) ?? 0) + 1);
    const q = request.url.indexOf('?');
    request.auditRow = {
      event: 'access.allowed',
      outcome: 'allowed',
      actor: caller.username,
      authMethod: whoami.authMethod,
      credentialId: caller.credentialId,
      ip: request.ip,
      method: request.method,
      path: q === -1 ? request.url : request.url.slice(0, q),
      userAgent: request.headers['user-agent'],
      requestId: request.id,
    };
    return true;
  }
}
Injectable()(FloorGuard);

class FloorController {
  whoami() {
    return whoami;
  }
}
const descriptor = /** @type {PropertyDescriptor} */ (
  Object.getOwnPropertyDescriptor(FloorController.prototype, 'whoami')
);
Get('system/whoami')(FloorController.prototype, 'whoami', descriptor);
Controller()(FloorController);
class FloorModule {}
Module({
  controllers: [FloorController],
  providers: [{ provide: APP_GUARD, useClass: FloorGuard }],
})(FloorModule);

async function main() {
  const { writer, close } = await openAuditWriter('sqlite:');

  const adapter = new FastifyAdapter();
  const fastify = adapter.getInstance();
  const prefix = randomUUID().slice(0, 8);
  let requests = 0;
  fastify.addHook('onSend', (_request, reply, _payload, done) => {
    reply.headers(headers);
    reply.header('x-request-id', `${prefix}-${++requests}`);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const row = /** @type {FloorRequest} */ (/** @type {unknown} */ (request)).auditRow;
    if (row) {
      row.status = reply.statusCode;
      writer.record(row);
    }
    done();
  });
  /** @type {import('@nestjs/platform-fastify').NestFastifyApplication} */
  const app = await NestFactory.create(FloorModule, adapter, { logger: false });
  const stop = async () => {
    await app.close();
    await writer.flush();
    await close();
    process.exit(0);
  };
  if (process.env.BARE_EXIT_ON_STDIN_END === '1') {
    process.stdin.on('end', () => void stop());
    process.stdin.on('error', () => void stop());
    process.stdin.resume();
  }
  process.on('SIGTERM', () => void stop());
  await app.listen(port, host);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
