/** The settings document (docs/settings.md); every field has a default. */
export interface Settings {
  restApiAuthentication: { enabled: boolean };
  basicAuth: { enabled: boolean };
  apiTokens: {
    enabled: boolean;
    usersCanCreate: boolean;
    maxLifetimeDays: number;
    maxPerUser: number;
  };
  nativeOAuthTokens: { allowed: boolean };
  groups: { apiAccess: string[]; readOnly: string[]; tokenCreators: string[] };
  ip: { allow: string[]; trustedProxies: string[]; clientIpHeader: string };
  publicApis: { requireAuthentication: boolean; paths: string[] };
  bypass: { paths: string[] };
  rateLimit: { enabled: boolean; requests: number; windowSeconds: number };
  audit: { enabled: boolean; retentionDays: number; maxEntries: number; purgeCron: string };
  tokens: {
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    rotateRefreshTokens: boolean;
    reuseGraceSeconds: number;
  };
  /** Signing-key rotation: how long a new key is published before it signs, and how often. */
  keys: { prePublishSeconds: number; rotateEveryDays: number };
  /** The upstream's own browser users (UPSTREAM_BASE_URL's session cookie) at the decision endpoint. */
  upstreamSessions: {
    /** Judge a request that carries the session cookie and no Authorization; only with UPSTREAM_BASE_URL. */
    decision: boolean;
    /** How long the upstream's answer about one cookie is reused (a "no session" answer: 5 s at most). */
    cacheSeconds: number;
  };
  /** The identity providers whose tokens are accepted (kind `external`), at most one per issuer. */
  identityProviders: IdentityProvider[];
}

/**
 * One identity provider: a JWT goes to the provider whose `issuer` is the token's `iss`; an
 * opaque token to the introspection provider whose `opaqueTokens` pattern it matches.
 */
export interface IdentityProvider {
  /** Unique in the list: names the provider in answers, caches and the audit. */
  name: string;
  enabled: boolean;
  mode: 'publicKey' | 'jwks' | 'introspection';
  /** Unique in the list; never Warden's own. Required in publicKey and jwks modes. */
  issuer: string | null;
  audience: string | null;
  /** RS*, PS*, ES* only: an identity provider signs with a key pair. */
  algorithms: string[];
  publicKey: string | null;
  jwksUrl: string | null;
  introspectionUrl: string | null;
  clientId: string | null;
  clientSecret: string | null;
  /** Seconds an introspection answer is reused (never past the token's exp); 0: ask every time. */
  introspectionCacheSeconds: number;
  /**
   * Introspection mode: the opaque tokens that are this provider's (an anchored regex); no
   * other opaque token is sent to it. Required while nativeOAuthTokens.allowed is on.
   */
  opaqueTokens: string | null;
  usernameClaim: string;
  usernameRegex: string | null;
  groupsClaim: string | null;
  /** Take the local user of the same name (and its groups) when there is one. */
  mapToLocalUser: boolean;
  /**
   * Let mapToLocalUser name a member of warden-admins. Off, such a token is refused: whoever
   * controls the IdP's usernames would otherwise be named as an administrator downstream.
   */
  allowAdminMapping: boolean;
}

/** The longest life `tokens.accessTtlSeconds` may give an access token. */
export const MAX_ACCESS_TTL_SECONDS = 86_400;

/** The longest `upstreamSessions.cacheSeconds` may keep an upstream's answer about a cookie. */
export const MAX_SESSION_CACHE_SECONDS = 300;

export const DEFAULT_SETTINGS: Settings = {
  restApiAuthentication: { enabled: true },
  basicAuth: { enabled: true },
  apiTokens: { enabled: true, usersCanCreate: true, maxLifetimeDays: 365, maxPerUser: 20 },
  nativeOAuthTokens: { allowed: true },
  groups: { apiAccess: [], readOnly: [], tokenCreators: [] },
  ip: { allow: [], trustedProxies: ['127.0.0.1/32', '::1/128'], clientIpHeader: 'X-Forwarded-For' },
  publicApis: { requireAuthentication: false, paths: [] },
  bypass: { paths: [] },
  rateLimit: { enabled: true, requests: 600, windowSeconds: 60 },
  audit: { enabled: true, retentionDays: 90, maxEntries: 1_000_000, purgeCron: '0 * * * *' },
  tokens: {
    accessTtlSeconds: 900,
    refreshTtlSeconds: 604_800,
    // BigPicture's contract: reauth answers `{authentication}` only, and the client keeps the
    // refresh token it got at login for its whole life. Rotation is for clients that store the new one.
    rotateRefreshTokens: false,
    reuseGraceSeconds: 30,
  },
  keys: { prePublishSeconds: 600, rotateEveryDays: 90 },
  upstreamSessions: { decision: true, cacheSeconds: 30 },
  identityProviders: [],
};

/**
 * Paths (dotted) of settings that are lists of local group names: a group renamed is renamed
 * in them, and a group named in any of them cannot be deleted. A new setting that names groups
 * belongs here.
 */
export const GROUP_SETTINGS = [
  'groups.apiAccess',
  'groups.readOnly',
  'groups.tokenCreators',
] as const;

/** What an entry holds for every field it does not name (a preset, an upgraded document). */
export const IDENTITY_PROVIDER_DEFAULTS: Omit<IdentityProvider, 'name'> = {
  enabled: false,
  mode: 'publicKey',
  issuer: null,
  audience: null,
  algorithms: ['RS256'],
  publicKey: null,
  jwksUrl: null,
  introspectionUrl: null,
  clientId: null,
  clientSecret: null,
  introspectionCacheSeconds: 60,
  opaqueTokens: null,
  usernameClaim: 'sub',
  usernameRegex: null,
  groupsClaim: null,
  mapToLocalUser: false,
  allowAdminMapping: false,
};

/** The name an upgraded `externalJwt` block gets, and the provider the old routes act on. */
export const LEGACY_PROVIDER_NAME = 'default';

/**
 * Paths of settings that are secrets: masked when read, sealed at rest (context
 * `settings:<path>`), kept when written back masked. `list[].field` is that field of every entry
 * of a list; a masked entry keeps the secret of the stored entry of the same `name`.
 */
export const SECRET_SETTINGS = ['identityProviders[].clientSecret'] as const;
export const MASK = '********';
