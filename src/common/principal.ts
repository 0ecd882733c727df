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
  | 'cmj-spi';

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
}

export const ADMIN_GROUP = 'warden-admins';

export function isAdmin(principal: Principal): boolean {
  return principal.groups.includes(ADMIN_GROUP);
}
