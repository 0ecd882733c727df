import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Strategy } from 'passport';
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
 * Runs this application's passport strategies the way passport's Authenticator does (a fresh
 * object on the strategy's prototype per attempt, with success / fail / error), without its
 * per-request middleware and request decoration: a never-seen token pays for its strategy alone.
 * The strategies are this application's own (passport's process-wide instance answers for
 * whichever application registered last when two run in one process: tests, the CLI).
 */
@Injectable()
export class StrategyRunner {
  private readonly strategies = new Map<StrategyName, Strategy>();

  /** Each module that owns a credential kind registers its strategy here when it starts. */
  register(kind: StrategyName, strategy: unknown): void {
    this.strategies.set(kind, strategy as Strategy);
  }

  /**
   * Settles with what the strategy authenticated; rejects with its error or failure info
   * (passport-jwt reports what was wrong with a token as a failure, jsonwebtoken's own error as
   * the info: both come out as the typed JwtError the answer is made from). The strategy gets a
   * view holding what it may read (the route's flags on it), so Fastify's request objects keep one
   * shape and are never copied.
   */
  run<T>(
    kind: StrategyName,
    request: StrategyRequest,
    route: { connectContext?: boolean; login?: boolean } = {},
  ): Promise<T> {
    const strategy = this.strategies.get(kind);
    if (!strategy) return Promise.reject(new Error(`No strategy is registered for ${kind}`));
    const view: StrategyRequest = {
      headers: request.headers,
      ip: request.ip,
      target: request.target,
      connectContext: route.connectContext ?? request.connectContext,
      exchangesForTokens: route.login ?? request.exchangesForTokens,
    };
    return new Promise<T>((resolve, reject) => {
      const attempt = Object.create(strategy) as PassportAttempt<T>;
      attempt.success = (user) => resolve(user);
      attempt.fail = (challenge) =>
        reject(asJwtError(challenge ?? new Error('Authentication failed')));
      attempt.error = (err) => reject(asJwtError(err));
      attempt.pass = () => reject(new Error(`The ${kind} strategy passed the request on`));
      attempt.redirect = () => reject(new Error(`The ${kind} strategy asked for a redirect`));
      try {
        attempt.authenticate(view, { session: false });
      } catch (err) {
        reject(asJwtError(err));
      }
    });
  }
}

/** A strategy's attempt, with what passport gives it to report with. */
interface PassportAttempt<T> {
  authenticate(request: unknown, options: { session: false }): void;
  success(user: T, info?: unknown): void;
  fail(challenge?: unknown, status?: number): void;
  error(err: unknown): void;
  pass(): void;
  redirect(url: string, status?: number): void;
}
