/** Field names that read better than their humanized key. */
const LABELS: Record<string, string> = {
  requests: 'Requests',
  windowSeconds: 'Window (seconds)',
  accessTtlSeconds: 'Access token lifetime (seconds)',
  refreshTtlSeconds: 'Refresh token lifetime (seconds)',
  rotateRefreshTokens: 'Rotate refresh tokens',
  reuseGraceSeconds: 'Reuse grace (seconds)',
  retentionDays: 'Retention (days)',
  maxEntries: 'Maximum rows',
  purgeCron: 'Purge schedule (cron)',
  allow: 'Allowed addresses (one per line)',
  trustedProxies: 'Trusted proxies (one per line)',
  clientIpHeader: 'Client address header',
  paths: 'Patterns (one per line)',
  apiAccess: 'API access groups',
  readOnly: 'Read-only groups',
  tokenCreators: 'Token creator groups',
};
export const SECTION_TITLES: Record<string, string> = {
  restApiAuthentication: 'REST API authentication',
  basicAuth: 'Basic authentication',
  apiTokens: 'API tokens',
  nativeOAuthTokens: 'Native OAuth tokens',
  groups: 'Groups',
  ip: 'IP allow-list and trusted proxies',
  publicApis: 'Public APIs',
  bypass: 'Bypass',
  rateLimit: 'Rate limit',
  audit: 'Audit retention',
  tokens: 'Token lifetimes and rotation',
  keys: 'Signing keys',
  upstreamSessions: 'Upstream sessions',
  identityProviders: 'Identity providers',
};

export const humanize = (key: string) =>
  LABELS[key] ?? key.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
