import { Injectable } from '@nestjs/common';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { API_TOKEN_MARK, parseAuthorization } from '../../common/credentials';
import { JwtError } from '../../common/jwt/jws';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { ADMIN_GROUP, Principal } from '../../common/principal';
import { denyingPrincipal } from '../../restrictions/access-audit';
import {
  adminMappingRefused,
  ExternalIdentity,
  ExternalJwtService,
} from '../external/external-jwt.service';
import { CredentialKindHandler, PresentedRequest, Resolution } from '../kinds/credential-kind';

/** Scopes of an external caller: it may read and write, never administer. */
const EXTERNAL_SCOPES: readonly string[] = Object.freeze(['read', 'write']);

/**
 * `external`: `Authorization: Bearer <token>` from the configured identity provider — its key
 * or certificate, its JWK set, or its introspection endpoint (ExternalJwtService), algorithms
 * from the settings' allow-list only.
 */
@Injectable()
export class ExternalJwtStrategy extends LocalPassportStrategy(Strategy, 'external') {
  constructor(private readonly external: ExternalJwtService) {
    super();
  }

  async validate(request: StrategyRequest): Promise<ExternalIdentity> {
    const credential = parseAuthorization(request.headers.authorization);
    if (credential.scheme !== 'bearer') throw new JwtError('malformed', 'Expected a bearer token');
    // The settings' generation when the IdP was asked: an answer begun under older settings is
    // used for this request but not remembered.
    const generation = this.external.generation;
    return { ...(await this.external.verify(credential.token)), generation };
  }
}

/**
 * The `external` kind: a Bearer token an identity provider issued, taken wherever Warden's own
 * access token is. Told from Warden's token by its issuer (or, opaque, by the provider's
 * opaqueTokens pattern); remembered until the provider's answer may no longer be trusted.
 */
@Injectable()
export class ExternalJwtKind extends CredentialKindHandler<ExternalIdentity> {
  readonly kind = 'external';
  override readonly takenAs = 'access';
  readonly challenge = 'Bearer';
  readonly securityScheme = {
    name: 'bearer',
    definition: {
      type: 'http' as const,
      scheme: 'bearer',
      description: "A token of a configured identity provider (Warden's access token otherwise)",
    },
  };

  constructor(
    readonly strategy: ExternalJwtStrategy,
    private readonly external: ExternalJwtService,
  ) {
    super();
  }

  recognises({ presented }: PresentedRequest, remembered = false): boolean {
    // Only Warden's own access token goes without a scheme; an IdP's token is a Bearer token.
    if (presented.scheme !== 'bearer' || presented.token.startsWith(API_TOKEN_MARK)) return false;
    return remembered ? this.external.enabled : this.external.claims(presented.token);
  }

  resolve(identity: ExternalIdentity): Resolution {
    // Settings changed while the IdP was asked (a slow JWKS or introspection call): answer this
    // request, but do not remember what older settings made of the token.
    const keep = identity.generation === this.external.generation;
    if (identity.localUserId) {
      return {
        // Local groups apply, administration does not: a name match is not a sign-in.
        remember: {
          kind: 'external',
          userId: identity.localUserId,
          credentialId: identity.credentialId,
          scopes: EXTERNAL_SCOPES,
        },
        until: identity.trustUntil,
        keep,
      };
    }
    return {
      remember: {
        kind: 'external',
        userId: '',
        credentialId: identity.credentialId,
        scopes: EXTERNAL_SCOPES,
        principal: {
          id: `external:${identity.issuer ?? ''}:${identity.subject ?? identity.username}`,
          username: identity.username,
          groups: identity.groups,
          authMethod: 'external',
          credentialId: identity.credentialId,
          scopes: EXTERNAL_SCOPES as string[],
          ...(identity.invocation
            ? { tenant: identity.invocation.installation, invocation: identity.invocation }
            : {}),
        },
      },
      until: identity.trustUntil,
      keep,
    };
  }

  /**
   * A token mapped to a local user who is (or has since become) an administrator is refused
   * unless the provider allows it (allowAdminMapping): checked on every use, not only when mapped.
   */
  override onUse(principal: Principal, { settings }: PresentedRequest): void {
    if (principal.groups.includes(ADMIN_GROUP) && !settings.externalJwt.allowAdminMapping) {
      const refused = adminMappingRefused();
      // The audit row names the administrator the token would have been.
      denyingPrincipal(refused, principal);
      throw refused;
    }
  }
}
