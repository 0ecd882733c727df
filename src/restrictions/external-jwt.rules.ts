import { createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { assertKeyFits, JwsAlgorithm } from '../common/jwt/jws';
import type { FieldError } from '../common/validation-errors';
import type { Settings } from './settings.defaults';

/**
 * What must hold of `externalJwt` before it is switched on, checked when the settings are
 * saved (the per-field checks are the DTO's): the mode's source is there and usable; a signed
 * token's issuer and audience are pinned, because an IdP is often shared by many clients whose
 * tokens would otherwise all pass; the issuer is never Warden's own.
 */
export function externalJwtProblems(
  next: Settings,
  context: { wardenIssuer: string; allowHttp: boolean },
): FieldError[] {
  const s = next.externalJwt;
  const errors: FieldError[] = [];
  const problem = (field: string, message: string) =>
    errors.push({ field: `externalJwt.${field}`, messages: [message] });
  if (s.issuer !== null && s.issuer === context.wardenIssuer)
    problem('issuer', "issuer must not be Warden's own issuer");
  if (!s.enabled) return errors;
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
  if (unrecognisedOpaqueTokens(s, next.nativeOAuthTokens.allowed))
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
  return errors;
}

/**
 * An enabled introspection provider with no `opaqueTokens` pattern while native tokens are
 * allowed: any opaque token could be an upstream's own (a Jira personal access token), and none
 * may be sent to a third party. A save refuses this; a document stored before the field existed
 * may hold it, and then no opaque token goes to the provider (see sentToProvider).
 */
function unrecognisedOpaqueTokens(
  provider: Settings['externalJwt'],
  nativeAllowed: boolean,
): boolean {
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
  return unrecognisedOpaqueTokens(settings.externalJwt, settings.nativeOAuthTokens.allowed)
    ? [
        {
          field: 'externalJwt.opaqueTokens',
          message:
            'No opaque token is sent to the introspection endpoint until an opaqueTokens pattern is set (nativeOAuthTokens.allowed is on)',
        },
      ]
    : [];
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
