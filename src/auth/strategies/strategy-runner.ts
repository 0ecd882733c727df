import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Authenticator, Strategy } from 'passport';
import { asJwtError } from '../../common/jwt/passport-jwt';
import type { StrategyName } from '../../common/passport/local-strategy';

/**
 * What a strategy may read of the request: its headers, the client address, and (for Connect,
 * whose tokens are bound to the request) the method and request target being judged.
 */
export type StrategyRequest = Pick<FastifyRequest, 'headers' | 'ip'> & {
  target?: { method: string; url: string };
  /** The route takes Connect context tokens (`qsh: context-qsh`). */
  connectContext?: boolean;
  /**
   * The route exchanges the credential for tokens (/system/auth). Not `login`: passport puts its
   * own `login` function on every request it authenticates.
   */
  exchangesForTokens?: boolean;
};

/**
 * Runs this application's strategy instances through a passport Authenticator of its own.
 * Passport's default instance is process-wide: with two Warden instances in one process (tests,
 * the CLI next to a server) the last one constructed would answer for both.
 */
@Injectable()
export class StrategyRunner {
  private readonly passport = new Authenticator();

  /** Each module that owns a credential kind registers its strategy here when it starts. */
  register(kind: StrategyName, strategy: unknown): void {
    this.passport.use(kind, strategy as Strategy);
  }

  /**
   * Settles with what the strategy authenticated; rejects with its error or failure info.
   * Passport decorates the request it is given with its own properties (logIn, logOut, …); it
   * gets a view holding the headers instead, so Fastify's request objects keep one shape.
   */
  run<T>(kind: StrategyName, request: StrategyRequest): Promise<T> {
    const view: StrategyRequest = {
      headers: request.headers,
      ip: request.ip,
      target: request.target,
      connectContext: request.connectContext,
      exchangesForTokens: request.exchangesForTokens,
    };
    return new Promise<T>((resolve, reject) => {
      const middleware = this.passport.authenticate(
        kind,
        { session: false },
        (err: unknown, user: T | false, info: unknown) => {
          // passport-jwt reports what was wrong with a token as a failure, jsonwebtoken's own
          // error as the info: both come out as the typed JwtError the answer is made from.
          if (err) return reject(asJwtError(err));
          if (!user) return reject(asJwtError(info ?? new Error('Authentication failed')));
          resolve(user);
        },
      );
      middleware(view, {}, reject);
    });
  }
}
