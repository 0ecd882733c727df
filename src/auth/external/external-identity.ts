import { hash } from 'node:crypto';
import { JwtError } from '../../common/jwt/jws';
import { DomainError, Problems } from '../../common/problem/domain-error';
import { ADMIN_GROUP, ForgeInvocation } from '../../common/principal';
import type { IdentityProvider } from '../../settings/settings.defaults';
import type { UsersRepository } from '../directory/users.repository';

/** Bounds on what a token's claims can make Warden hold. */
const MAX_USERNAME = 255;
const MAX_GROUPS = 200;
const MAX_GROUP_NAME = 255;
/**
 * Local usernames' alphabet (directory DTO) plus `:` and `/`, which identifiers such as Atlassian
 * account ids and ARIs carry: nothing a header refuses, no control characters.
 */
const USERNAME = /^[\p{L}\p{N}._@+:/-]+$/u;
/** A jti is named in headers and audit rows only when it is short and plain. */
const CREDENTIAL_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Who an external token stands for, once verified and mapped. */
export interface ExternalIdentity {
  /** The provider that judged the token (its `name`). */
  provider: string;
  username: string;
  groups: string[];
  subject: string | null;
  issuer: string | null;
  /** When Warden may stop trusting this answer (ms): the token's exp, or the introspection TTL. */
  trustUntil: number;
  /** What the audit names: the token's jti, else a digest prefix (never the token). */
  credentialId: string;
  /** The local user of the same name, when mapToLocalUser found one. */
  localUserId?: string;
  /** Set for a Forge invocation token. */
  invocation?: ForgeInvocation;
}

/**
 * Forge Remote (Atlassian, "Verifying remote requests"): a Forge invocation token is an RS256 JWT
 * from this issuer, its keys in this JWK set, its audience the app's id
 * (`ari:cloud:ecosystem::app/<uuid>`); `app.installationId` names the installation and
 * `principal` the account that triggered the call.
 */
export const FORGE_ISSUER = 'forge/invocation-token';
export const FORGE_JWKS_URL = 'https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json';

const usernamePatterns = new Map<string, RegExp>();
/** Patterns remembered at most; a settings document holds a few. */
const MAX_USERNAME_PATTERNS = 256;

/** Anchored whatever the operator wrote: a partial match must not pass. */
function usernamePattern(source: string): RegExp {
  let pattern = usernamePatterns.get(source);
  if (!pattern) {
    if (usernamePatterns.size >= MAX_USERNAME_PATTERNS) usernamePatterns.clear();
    pattern = new RegExp(`^(?:${source})$`);
    usernamePatterns.set(source, pattern);
  }
  return pattern;
}

/**
 * Who a verified token (or an introspection answer) stands for under its provider's mapping:
 * the username from a claim, narrowed by an anchored regex; groups from a claim; the local user
 * of that name when mapToLocalUser finds one (never an administrator unless allowed).
 */
export async function identityOf(
  token: string,
  claims: Record<string, unknown>,
  trustUntil: number,
  s: IdentityProvider,
  users: Pick<UsersRepository, 'findByUsername'>,
): Promise<ExternalIdentity> {
  const raw = claimAt(claims, s.usernameClaim);
  if (typeof raw !== 'string' || raw === '') {
    throw new JwtError('bad_claim', `Claim ${s.usernameClaim} (the username) is missing`);
  }
  let username = raw.slice(0, 4 * MAX_USERNAME);
  if (s.usernameRegex) {
    const match = usernamePattern(s.usernameRegex).exec(username);
    if (!match) {
      throw new JwtError('bad_claim', `Claim ${s.usernameClaim} does not match usernameRegex`);
    }
    username = match[1] ?? match[0];
  }
  // The same alphabet as local usernames: no control characters, nothing a header refuses.
  if (username.length > MAX_USERNAME || !USERNAME.test(username)) {
    throw new JwtError(
      'bad_claim',
      'The username must be 1 to 255 letters, digits and . _ @ + - : / characters',
    );
  }
  const identity: ExternalIdentity = {
    provider: s.name,
    username,
    groups: groupsOf(s.groupsClaim ? claimAt(claims, s.groupsClaim) : undefined),
    subject: typeof claims.sub === 'string' ? claims.sub : null,
    issuer: typeof claims.iss === 'string' ? claims.iss : null,
    trustUntil,
    credentialId:
      typeof claims.jti === 'string' && CREDENTIAL_ID.test(claims.jti)
        ? claims.jti
        : `sha256:${hash('sha256', token, 'hex').slice(0, 16)}`,
  };
  const invocation = forgeInvocation(claims);
  if (invocation) identity.invocation = invocation;
  if (s.mapToLocalUser) {
    const local = await users.findByUsername(username);
    if (local && !s.allowAdminMapping && local.groups?.some((g) => g.name === ADMIN_GROUP))
      throw adminMappingRefused(s.name);
    if (local) identity.localUserId = local.id;
  }
  return identity;
}

function forgeInvocation(claims: Record<string, unknown>): ForgeInvocation | undefined {
  if (claims.iss !== FORGE_ISSUER) return undefined;
  const app = claims.app as Record<string, unknown> | undefined;
  if (!app || typeof app.id !== 'string' || typeof app.installationId !== 'string')
    return undefined;
  const environment = (app.environment as Record<string, unknown> | undefined)?.type;
  return {
    app: app.id.slice(0, 255),
    installation: app.installationId.slice(0, 255),
    ...(typeof claims.principal === 'string' ? { account: claims.principal.slice(0, 255) } : {}),
    ...(typeof environment === 'string' ? { environment: environment.slice(0, 32) } : {}),
  };
}

/**
 * An IdP token whose username is a local administrator's: refused unless the operator said
 * otherwise (allowAdminMapping). Whoever controls usernames at the IdP would
 * otherwise be named as that administrator to the upstream behind the decision endpoint.
 */
export function adminMappingRefused(provider: string): DomainError {
  return Problems.forbidden(
    'admin_mapping_refused',
    `The token's user is a Warden administrator, and provider "${provider}" does not map its tokens to administrators (allowAdminMapping is off)`,
  );
}

export function inactiveToken(): JwtError {
  return new JwtError('bad_claim', 'The identity provider says the token is not active');
}

/** `a.b.c` into nested objects; own properties only. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part))
      return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Half of a UTF-16 surrogate pair on its own (a JSON `\ud800`): no character, so no group name a
 * setting could hold, and text that cannot be encoded for a header.
 */
const ILL_FORMED = /\p{Cs}/u;

/**
 * Groups from an array of strings or a space- or comma-separated string; names that are not
 * well-formed text are dropped. warden-admins is never taken from an IdP: administration is
 * granted in Warden's own directory only.
 */
function groupsOf(value: unknown): string[] {
  const names = Array.isArray(value)
    ? value.filter((g): g is string => typeof g === 'string')
    : typeof value === 'string'
      ? value.split(/[\s,]+/)
      : [];
  return [
    ...new Set(
      names.filter(
        (g) => g !== '' && g.length <= MAX_GROUP_NAME && g !== ADMIN_GROUP && !ILL_FORMED.test(g),
      ),
    ),
  ]
    .slice(0, MAX_GROUPS)
    .sort();
}
