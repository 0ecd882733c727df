/** How a caller proved who they are; one strategy per kind. */
export type CredentialKind =
  | 'access'
  | 'refresh'
  | 'basic'
  | 'session'
  | 'api-token'
  | 'external'
  | 'connect'
  | 'connect-install'
  | 'cmj-spi'
  /** No credentials were asked for: restApiAuthentication is switched off for API routes. */
  | 'anonymous';

/** The authenticated caller, the same shape whatever the credential kind. */
export interface Principal {
  /** User id (or tenant / subject id for non-user callers). */
  id: string;
  username: string;
  groups: string[];
  authMethod: CredentialKind;
  /** What the caller presented: session id for access tokens, token id for API tokens… */
  credentialId: string;
  scopes: string[];
  tenant?: string;
  /** A Forge app's invocation (Forge Remote): which app, installation and user called. */
  invocation?: ForgeInvocation;
  /** Atlassian Connect: the host product's call (`tenant` is its clientKey). */
  connect?: ConnectCall;
}

export interface ConnectCall {
  /** The Atlassian account the host acted for, when a user was involved. */
  accountId?: string;
  /** Authenticated by a context token (`qsh: context-qsh`), not bound to one request. */
  context?: boolean;
  /** A lifecycle callback's token: its `iat` and SHA-256, so it is accepted only once. */
  lifecycle?: { iat: number; digest: string };
}

export interface ForgeInvocation {
  app: string;
  installation: string;
  /** The Atlassian account that triggered it; absent for events and scheduled triggers. */
  account?: string;
  environment?: string;
}

export const ADMIN_GROUP = 'warden-admins';

/** Scopes of a caller not limited by a token: a user signed in in person. */
export const ALL_SCOPES: readonly string[] = Object.freeze(['read', 'write', 'admin']);
/** Methods that only read; a token with the `read` scope alone may use these. */
export const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isAdmin(principal: Principal): boolean {
  return principal.groups.includes(ADMIN_GROUP);
}
