import { createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { assertKeyFits, JwsAlgorithm } from '../common/jwt/jws';
import type { FieldError } from '../common/validation-errors';
import { opaqueTokensOverlap } from './opaque-token-overlap';
import { IdentityProvider, Settings } from './settings.defaults';

/**
 * What must hold of `identityProviders` when the settings are saved (the per-field checks are
 * the DTO's): names and issuers are unique, so that a token's `iss` names one provider; at most
 * one provider's `opaqueTokens` claims any token (see opaqueTokensOverlap for how far that is
 * checked); and an enabled provider's mode has its source there and usable; a signed token's
 * issuer and audience are pinned, because an IdP is often shared by many clients whose tokens
 * would otherwise all pass; no issuer is Warden's own.
 */
export function identityProviderProblems(
  next: Settings,
  context: { wardenIssuer: string; allowHttp: boolean },
): FieldError[] {
  const errors: FieldError[] = [];
  const providers = next.identityProviders;
  const problem = (index: number, field: string, message: string) =>
    errors.push({ field: `identityProviders[${index}].${field}`, messages: [message] });
  providers.forEach((provider, index) => {
    const earlier = providers.slice(0, index);
    if (earlier.some((p) => p.name === provider.name))
      problem(index, 'name', `name "${provider.name}" is already used by another provider`);
    if (provider.issuer !== null && earlier.some((p) => p.issuer === provider.issuer))
      problem(
        index,
        'issuer',
        'issuer is already used by another provider: a token would name two',
      );
    providerProblems(provider, next.nativeOAuthTokens.allowed, context, (field, message) =>
      problem(index, field, message),
    );
  });
  const patterned = providers
    .map((provider, index) => ({ provider, index }))
    .filter(({ provider }) => provider.mode === 'introspection' && provider.opaqueTokens !== null);
  patterned.forEach(({ provider, index }, i) => {
    const other = patterned
      .slice(0, i)
      .find((p) => opaqueTokensOverlap(p.provider.opaqueTokens!, provider.opaqueTokens!));
    if (other)
      problem(
        index,
        'opaqueTokens',
        `opaqueTokens may claim the same tokens as provider "${other.provider.name}": a token must name one provider`,
      );
  });
  const catchAll = providers.filter(
    (p) => p.enabled && p.mode === 'introspection' && p.opaqueTokens === null,
  );
  if (catchAll.length > 1 && !next.nativeOAuthTokens.allowed) {
    const index = providers.indexOf(catchAll[1]);
    problem(
      index,
      'opaqueTokens',
      'opaqueTokens is required when more than one introspection provider is enabled: an opaque token must name one provider',
    );
  }
  return errors;
}

function providerProblems(
  s: IdentityProvider,
  nativeAllowed: boolean,
  context: { wardenIssuer: string; allowHttp: boolean },
  problem: (field: string, message: string) => void,
): void {
  if (s.issuer !== null && s.issuer === context.wardenIssuer)
    problem('issuer', "issuer must not be Warden's own issuer");
  if (!s.enabled) return;
  const url = (field: 'jwksUrl' | 'introspectionUrl') => {
    const value = s[field];
    if (!value) return problem(field, `${field} is required in ${s.mode} mode`);
    if (!value.startsWith('https://') && !context.allowHttp)
      problem(field, `${field} must be https (WARDEN_IDP_ALLOW_HTTP=true allows http)`);
  };
  if (s.mode !== 'introspection') {
    if (!s.issuer) problem('issuer', `issuer is required in ${s.mode} mode`);
    if (!s.audience) problem('audience', `audience is required in ${s.mode} mode`);
    if (s.algorithms.length === 0) problem('algorithms', 'at least one algorithm is required');
  }
  if (s.mode === 'jwks') url('jwksUrl');
  if (s.mode === 'introspection') url('introspectionUrl');
  if (unrecognisedOpaqueTokens(s, nativeAllowed))
    problem(
      'opaqueTokens',
      "opaqueTokens is required in introspection mode while nativeOAuthTokens.allowed is on: without it an upstream's own tokens could not be told from the provider's",
    );
  if (s.mode === 'publicKey') {
    if (!s.publicKey) problem('publicKey', 'publicKey is required in publicKey mode');
    else {
      const message = publicKeyProblem(s.publicKey, s.algorithms);
      if (message) problem('publicKey', message);
    }
  }
}

/**
 * An enabled introspection provider with no `opaqueTokens` pattern while native tokens are
 * allowed: any opaque token could be an upstream's own (a Jira personal access token), and none
 * may be sent to a third party. A save refuses this; a document stored before the field existed
 * may hold it, and then no opaque token goes to the provider (see routeToken).
 */
function unrecognisedOpaqueTokens(provider: IdentityProvider, nativeAllowed: boolean): boolean {
  return (
    provider.enabled &&
    provider.mode === 'introspection' &&
    provider.opaqueTokens === null &&
    nativeAllowed
  );
}

export interface SettingsWarning {
  field: string;
  message: string;
}

/** What an administrator should know of the settings in force (the stored document may predate a rule). */
export function settingsWarnings(settings: Settings): SettingsWarning[] {
  return settings.identityProviders.flatMap((provider, index) =>
    unrecognisedOpaqueTokens(provider, settings.nativeOAuthTokens.allowed)
      ? [
          {
            field: `identityProviders[${index}].opaqueTokens`,
            message: `No opaque token is sent to the introspection endpoint of provider "${provider.name}" until an opaqueTokens pattern is set (nativeOAuthTokens.allowed is on)`,
          },
        ]
      : [],
  );
}

function publicKeyProblem(pem: string, algorithms: readonly string[]): string | null {
  let key: KeyObject;
  try {
    key = pem.includes('BEGIN CERTIFICATE')
      ? new X509Certificate(pem).publicKey
      : createPublicKey(pem);
  } catch {
    return 'publicKey must be a PEM public key or X.509 certificate';
  }
  if (key.type !== 'public') return 'publicKey must be a public key';
  const fits = algorithms.some((alg) => {
    try {
      assertKeyFits({ alg: alg as JwsAlgorithm, key }, 'verify');
      return true;
    } catch {
      return false;
    }
  });
  return fits ? null : 'publicKey fits none of the allowed algorithms';
}
