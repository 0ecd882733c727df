import type { IdentityProvider } from '../../settings/settings.defaults';

/** One identity provider's settings. */
export type ProviderSettings = IdentityProvider;

export interface RoutingContext {
  /** nativeOAuthTokens.allowed: bearer tokens Warden does not know may be the upstream's own. */
  nativeAllowed: boolean;
  wardenIssuer: string;
}

/** How a token routed to a provider is judged: its signature here, or the provider's answer. */
export type ProviderRoute = { provider: ProviderSettings; by: 'signature' | 'introspection' };

/**
 * Which provider, if any, judges a bearer token that is not an API token (Warden's own
 * verification takes what none does).
 *
 * - A JWT naming Warden's issuer never goes out.
 * - A JWT goes to the enabled provider whose `issuer` is its unverified `iss` (issuers are unique
 *   in the list): a signature-mode provider verifies it here; an introspection provider is asked.
 * - An opaque token goes to the one enabled introspection provider whose `opaqueTokens` pattern
 *   it matches. Overlapping patterns are refused at save; should a stored document still hold
 *   two that both match, the token goes to neither.
 * - While native tokens are off, an opaque token no pattern claims goes to the one enabled
 *   introspection provider without a pattern, if there is exactly one: the behaviour before
 *   `opaqueTokens` existed, when nothing else could accept such a token. With native tokens on,
 *   nothing unrecognised goes out: an upstream's personal access token must never reach a
 *   third party.
 */
export function routeToken(
  providers: readonly ProviderSettings[],
  token: string,
  context: RoutingContext,
): ProviderRoute | null {
  const iss = unverifiedIssuer(token);
  if (iss !== undefined) {
    if (iss === context.wardenIssuer || iss === '') return null;
    const named = providers.find((p) => p.enabled && p.issuer === iss);
    return named ? route(named) : null;
  }
  const claimed = providers.filter((p) => matchesOpaqueTokens(p, token));
  if (claimed.length === 1) return route(claimed[0]);
  if (claimed.length > 1 || context.nativeAllowed) return null;
  const catchAll = providers.filter(
    (p) => p.enabled && p.mode === 'introspection' && p.opaqueTokens === null,
  );
  return catchAll.length === 1 ? route(catchAll[0]) : null;
}

function route(provider: ProviderSettings): ProviderRoute {
  return { provider, by: provider.mode === 'introspection' ? 'introspection' : 'signature' };
}

/** Whether an opaque token is one this introspection provider claims by its pattern. */
export function matchesOpaqueTokens(provider: ProviderSettings, token: string): boolean {
  if (!provider.enabled || provider.mode !== 'introspection' || provider.opaqueTokens === null)
    return false;
  const pattern = anchored(provider.opaqueTokens);
  return pattern !== null && pattern.test(token);
}

const compiled = new Map<string, RegExp | null>();
/** Patterns remembered at most; a settings document holds a few. */
const MAX_COMPILED = 256;

/**
 * Anchored whatever was stored (`^a|b$` would otherwise match any token ending in b); a pattern
 * that does not compile (only a document written around the API can hold one) matches nothing,
 * so that nothing is sent out by mistake.
 */
export function anchored(source: string): RegExp | null {
  let pattern = compiled.get(source);
  if (pattern === undefined) {
    try {
      pattern = new RegExp(`^(?:${source})$`);
    } catch {
      pattern = null;
    }
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(source, pattern);
  }
  return pattern;
}

/**
 * The `iss` of a JWT without verifying it (routing only): '' when its payload has none or it is
 * not a string, undefined when the token is not a JWT at all.
 */
export function unverifiedIssuer(token: string): string | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 1 || second < 0) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString());
    return typeof payload?.iss === 'string' ? payload.iss : '';
  } catch {
    return undefined;
  }
}
