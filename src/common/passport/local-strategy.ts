import { Type } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { CredentialKind } from '../principal';

/**
 * What a strategy is registered as: its credential kind, or for a kind judged two ways the way
 * (`external-introspection`: an external token its identity provider is asked about).
 */
export type StrategyName = CredentialKind | 'external-introspection';

/** Takes what @nestjs/passport would register on passport's process-wide instance, and drops it. */
const NOT_PROCESS_WIDE = { use: () => undefined };

/**
 * `PassportStrategy` for a credential kind, kept off passport's process-wide instance: each
 * application runs its strategies through an Authenticator of its own (StrategyRunner), so two
 * Warden applications in one process (tests, the CLI beside a server) never answer for each other.
 */
export function LocalPassportStrategy<T extends Type<object>>(Strategy: T, kind: StrategyName) {
  const Base = PassportStrategy(Strategy, kind);
  // @nestjs/passport registers every strategy through this method, called from its constructor.
  Object.defineProperty(Base.prototype, 'getPassportInstance', {
    value: () => NOT_PROCESS_WIDE,
  });
  return Base;
}
