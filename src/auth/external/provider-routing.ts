import type { Settings } from '../../restrictions/settings.defaults';

/** One identity provider's settings (today the single `externalJwt` block). */
export type ProviderSettings = Settings['externalJwt'];

export interface RoutingContext {
  /** nativeOAuthTokens.allowed: bearer tokens Warden does not know may be the upstream's own. */
  nativeAllowed: boolean;
  wardenIssuer: string;
}

/**
 * Whether a bearer token (not an API token) goes to this provider rather than to Warden's own
 * verification.
 *
 * - A JWT naming Warden's issuer never goes out.
 * - A signature-mode provider (publicKey, jwks) takes every other JWT: it is verified here, and
 *   nothing of it leaves Warden.
 * - An introspection provider sends the token to a third party, so it takes what is
 *   recognisably its own: a token matching its `opaqueTokens` pattern, or a JWT naming its
 *   issuer. An upstream's personal access token must never reach the identity provider.
 * - What neither recognises goes out only while native tokens are off and, for an opaque token,
 *   no pattern is set: the behaviour before `opaqueTokens` existed, when nothing else could
 *   accept such a token. With native tokens on and no pattern (a document stored before the field
 *   existed; a save refuses it), no opaque token goes out until an administrator sets one.
 */
export function sentToProvider(
  provider: ProviderSettings,
  token: string,
  context: RoutingContext,
): boolean {
  if (!provider.enabled) return false;
  const iss = unverifiedIssuer(token);
  if (iss === context.wardenIssuer) return false;
  if (provider.mode !== 'introspection') return iss !== undefined;
  if (matchesOpaqueTokens(provider, token)) return true;
  if (iss !== undefined && provider.issuer !== null) return iss === provider.issuer;
  if (context.nativeAllowed) return false;
  return iss !== undefined || provider.opaqueTokens === null;
}

/** Whether an opaque token is one this introspection provider claims by its pattern. */
export function matchesOpaqueTokens(provider: ProviderSettings, token: string): boolean {
  if (!provider.enabled || provider.mode !== 'introspection' || provider.opaqueTokens === null)
    return false;
  const pattern = compiled(provider.opaqueTokens);
  return pattern !== null && pattern.test(token);
}

let last: { source: string; pattern: RegExp | null } | null = null;

/**
 * Anchored whatever was stored (`^a|b$` would otherwise match any token ending in b); a pattern
 * that does not compile (only a document written around the API can hold one) matches nothing,
 * so that nothing is sent out by mistake.
 */
function compiled(source: string): RegExp | null {
  if (last?.source !== source) {
    let pattern: RegExp | null;
    try {
      pattern = new RegExp(`^(?:${source})$`);
    } catch {
      pattern = null;
    }
    last = { source, pattern };
  }
  return last.pattern;
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
