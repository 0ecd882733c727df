import { Principal } from '../principal';
import { DomainError } from './domain-error';

/**
 * Who a denial after authentication was about; the error itself carries no principal. Kept
 * here, below the modules, because a strategy (auth) marks denials that the access audit
 * (restrictions) reads.
 */
const deniedPrincipals = new WeakMap<DomainError, Principal>();

/** Marks `err` as a denial of `principal` (a known caller refused by a rule after sign-in). */
export function denyingPrincipal(err: unknown, principal: Principal): void {
  if (err instanceof DomainError) deniedPrincipals.set(err, principal);
}

/** The caller a denial was about, when a rule refused a known caller. */
export function deniedPrincipal(err: DomainError): Principal | undefined {
  return deniedPrincipals.get(err);
}
