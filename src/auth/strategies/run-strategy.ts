import passport from 'passport';
import type { FastifyRequest } from 'fastify';

/**
 * Runs one registered passport strategy against a request and settles with what it
 * authenticated. A strategy that fails without an error rejects with its `info`.
 */
export function runStrategy<T>(name: string, request: FastifyRequest): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const middleware = passport.authenticate(
      name,
      { session: false },
      (err: unknown, user: T | false, info: unknown) => {
        if (err) return reject(err);
        if (!user) return reject(info ?? new Error('Authentication failed'));
        resolve(user);
      },
    );
    middleware(request, {}, reject);
  });
}
