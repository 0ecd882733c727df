'use strict';
// The framework's documented JWT set-up, as a yardstick for Warden's access-token route: NestJS on
// the same Fastify adapter, `GET /system/whoami` behind `AuthGuard('jwt')` of @nestjs/passport
// with a passport-jwt `JwtStrategy` as the NestJS authentication guide writes it
// (`ExtractJwt.fromAuthHeaderAsBearerToken()`, `ignoreExpiration: false`, `secretOrKey` the HS256
// secret, `validate()` answering the user from the claims), answering Warden's body (BARE_WHOAMI).
// Every request's token is verified: passport-jwt keeps no cache.
//
// NEST_JWT_SECRET is the secret. NEST_JWT_KEY is `string` (the guide's sample: the secret as a
// string, which jsonwebtoken turns into a key on every verification) or `keyobject` (the same
// secret as a crypto KeyObject made once at start).

require('reflect-metadata');
const { createSecretKey, randomUUID } = require('node:crypto');
const { Controller, Get, Injectable, Module, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { AuthGuard, PassportModule, PassportStrategy } = require('@nestjs/passport');
const { FastifyAdapter } = require('@nestjs/platform-fastify');
const { ExtractJwt, Strategy } = require('passport-jwt');

const port = Number(process.env.PORT || 3003);
const host = process.env.HOST || '127.0.0.1';
const secret = process.env.NEST_JWT_SECRET;
const keyKind = process.env.NEST_JWT_KEY || 'string';
if (!secret || !['string', 'keyobject'].includes(keyKind)) {
  process.stderr.write('NEST_JWT_SECRET is required and NEST_JWT_KEY is string or keyobject\n');
  process.exit(2);
}
const whoami = process.env.BARE_WHOAMI
  ? JSON.parse(process.env.BARE_WHOAMI)
  : { id: randomUUID(), username: 'admin', groups: ['warden-admins'], authMethod: 'access' };

// Plain JavaScript: the decorators are applied as the TypeScript compiler would apply them.
class JwtStrategy extends PassportStrategy(Strategy) {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ignoreExpiration: false,
      // (passport-jwt's types say string or Buffer; jsonwebtoken takes a KeyObject too.)
      secretOrKey: /** @type {any} */ (
        keyKind === 'keyobject' ? createSecretKey(Buffer.from(String(secret))) : secret
      ),
    });
  }
  /** @param {{ sub: string, username: string }} payload */
  async validate(payload) {
    return { userId: payload.sub, username: payload.username };
  }
}
Injectable()(JwtStrategy);

class JwtAuthGuard extends AuthGuard('jwt') {}
Injectable()(JwtAuthGuard);

class ProfileController {
  whoami() {
    return whoami;
  }
}
const descriptor = /** @type {PropertyDescriptor} */ (
  Object.getOwnPropertyDescriptor(ProfileController.prototype, 'whoami')
);
UseGuards(JwtAuthGuard)(ProfileController.prototype, 'whoami', descriptor);
Get('system/whoami')(ProfileController.prototype, 'whoami', descriptor);
Controller()(ProfileController);

class AuthModule {}
Module({
  imports: [PassportModule],
  providers: [JwtStrategy],
  controllers: [ProfileController],
})(AuthModule);

async function main() {
  /** @type {import('@nestjs/platform-fastify').NestFastifyApplication} */
  const app = await NestFactory.create(AuthModule, new FastifyAdapter(), { logger: false });
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
    `nest passport-jwt (${keyKind} secret) @nestjs/passport ` +
      `${require('@nestjs/passport/package.json').version}, passport-jwt ` +
      `${require('passport-jwt/package.json').version} on ${host}:${port}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`nest passport-jwt failed to start: ${err.stack || err}\n`);
  process.exit(1);
});
