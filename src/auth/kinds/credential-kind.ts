import type { SecuritySchemeObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import type { PresentedCredential } from '../../common/credentials';
import type { Challenge } from '../../common/problem/domain-error';
import type { ProblemCodeFor } from '../../common/problem/problem-codes';
import type { CredentialKind, Principal } from '../../common/principal';
import type { Settings } from '../../settings/settings.defaults';
import type { StrategyRequest } from '../strategies/strategy-runner';
import type { WardenClaims } from '../warden-tokens.service';

/** What authentication reads of a request: headers, client address, the target being judged. */
export type AuthRequest = StrategyRequest;

export interface AuthenticationRules {
  kinds: readonly CredentialKind[];
  /** A route whose job is to exchange a password for tokens takes one even when basicAuth is off. */
  login?: boolean;
  /** The route takes Connect context tokens (`qsh: context-qsh`). */
  connectContext?: boolean;
}

export interface Authenticated {
  principal: Principal;
  /** Set for refresh tokens: the verified claims the renewal works on. */
  refreshClaims?: WardenClaims;
}

/** A request as every kind sees it while the authenticator asks who takes it. */
export interface PresentedRequest {
  presented: PresentedCredential;
  request: AuthRequest;
  rules: AuthenticationRules;
  settings: Settings;
}

/**
 * What a verified bearer credential stands for, remembered by the token's digest so that a
 * repeat costs a hash and a Map look-up. Revocation and the user are checked on every use.
 */
export interface Remembered {
  kind: CredentialKind;
  /** Empty for a caller with no local user: `principal` is then the whole answer. */
  userId: string;
  /** Session id for access tokens, token id for API tokens: what revocation names. */
  credentialId: string;
  scopes: readonly string[];
  principal?: Principal;
  /** The identity provider that judged an IdP's token (its settings say whether an admin may be named). */
  provider?: string;
}

/** What a kind makes of what its strategy verified. */
export type Resolution =
  /** Remember this until `until` (ms), then answer with the principal it stands for. */
  | { remember: Remembered; until: number; keep?: boolean }
  /** Answered as it is; nothing to remember (bound to the request, or judged afresh each time). */
  | { authenticated: Authenticated };

/** What the authenticator lends a kind to finish its work. */
export interface KindTools {
  /** The principal a remembered credential stands for now: revocation, then the user's state. */
  principalOf(remembered: Remembered): Principal | Promise<Principal>;
  /** A 401 naming this route's challenges. */
  unauthorized(detail: string, code?: ProblemCodeFor<401>): Error;
}

/**
 * A credential kind: how a request presents it, the passport strategy that verifies it, the
 * challenge a 401 names, its OpenAPI security scheme, and whether (and how long) a verified one
 * may be remembered (its resolve() answers `remember` with a time). Each kind is one class in the module that owns it; the authenticator only
 * asks them in order of precedence (KIND_PRECEDENCE).
 */
export abstract class CredentialKindHandler<Verified = unknown> {
  abstract readonly kind: CredentialKind;
  /** The passport strategy registered under `kind`. */
  abstract readonly strategy: object;
  /** Further strategies of this kind, by name (an IdP's opaque tokens are asked, not verified). */
  readonly otherStrategies?: Readonly<Record<string, object>>;
  /** RFC 7235 challenge scheme of a route that takes this kind. */
  abstract readonly challenge: Challenge['scheme'];
  /** The OpenAPI security scheme routes taking this kind refer to. */
  abstract readonly securityScheme: { name: string; definition: SecuritySchemeObject };
  /** The route kind that takes this one too (an IdP's token rides where `access` is taken). */
  readonly takenAs?: CredentialKind;

  /**
   * Whether the request presents this kind on a route that takes it. `remembered`: the token is
   * one this kind verified before, so checks that only tell a new token's kind may be skipped.
   */
  abstract recognises(input: PresentedRequest, remembered?: boolean): boolean;

  /** After the strategy verified the credential. */
  abstract resolve(
    verified: Verified,
    input: PresentedRequest,
    tools: KindTools,
  ): Resolution | Promise<Resolution>;

  /** The strategy that verifies this request's credential: `kind`'s own unless one of the others. */
  strategyFor?(input: PresentedRequest): string;

  /** Checked on every use, remembered or not; may refuse. */
  onUse?(
    principal: Principal,
    input: PresentedRequest,
    tools: KindTools,
    remembered?: Remembered,
  ): void;

  /** Whether a route taking `kinds` takes this kind. */
  takenBy(kinds: readonly CredentialKind[]): boolean {
    return (
      kinds.includes(this.kind) || (this.takenAs !== undefined && kinds.includes(this.takenAs))
    );
  }
}

/**
 * Which kind answers when several could: CMJ's SPI routes take its JWT and nothing else; Connect
 * names its own scheme; a `wdn_` token is a personal API token however it is sent; an IdP's
 * token is told from Warden's own access token by its issuer; a refresh token only where no
 * access token is taken; passwords and the upstream's cookie last.
 */
export const KIND_PRECEDENCE: readonly CredentialKind[] = [
  'cmj-spi',
  'connect',
  'connect-install',
  'api-token',
  'external',
  'access',
  'refresh',
  'basic',
  'session',
];

/** The challenges of a 401 on a route taking `kinds`: Bearer, Basic, JWT, each once. */
export function challengesOf(
  handlers: readonly CredentialKindHandler[],
  kinds: readonly CredentialKind[],
  error?: Challenge['error'],
  description?: string,
): Challenge[] {
  const schemes = new Set(handlers.filter((h) => kinds.includes(h.kind)).map((h) => h.challenge));
  const list: Challenge[] = [];
  if (schemes.has('Bearer')) list.push({ scheme: 'Bearer', error, description });
  if (schemes.has('Basic')) list.push({ scheme: 'Basic' });
  if (schemes.has('JWT')) list.push({ scheme: 'JWT', error, description });
  return list;
}

/** The principal of a user of the local directory, as a credential of `kind` presents them. */
export function userPrincipal(
  user: { id: string; username: string; groups: string[] },
  kind: CredentialKind,
  credentialId: string,
  scopes: readonly string[],
): Principal {
  return {
    id: user.id,
    username: user.username,
    groups: user.groups,
    authMethod: kind,
    credentialId,
    scopes: scopes as string[],
  };
}
