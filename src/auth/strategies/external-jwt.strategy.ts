import { Injectable } from '@nestjs/common';
import { Strategy as JwtStrategy } from 'passport-jwt';
import type { StrategyRequest } from './strategy-runner';
import { API_TOKEN_MARK, bearerToken } from '../../common/credentials';
import { EXTERNAL_ALGORITHMS } from '../../common/jwt/external-algorithms';
import { JWT_VERIFY_OPTIONS, keyProvider, VerifiedJwt } from '../../common/jwt/passport-jwt';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { ADMIN_GROUP, Principal } from '../../common/principal';
import { denyingPrincipal } from '../../common/problem/denied-principal';
import { adminMappingRefused, ExternalIdentity } from '../external/external-identity';
import { ExternalJwtService } from '../external/external-jwt.service';
import {
  CredentialKindHandler,
  PresentedRequest,
  Remembered,
  Resolution,
} from '../kinds/credential-kind';
import { ExternalIntrospectionStrategy } from './external-introspection.strategy';

/** Scopes of an external caller: it may read and write, never administer. */
const EXTERNAL_SCOPES: readonly string[] = Object.freeze(['read', 'write']);

/** What an external strategy answers: the identity, and the settings' generation it began under. */
export type ExternalVerified = ExternalIdentity & { generation: number };

/**
 * `external`: `Authorization: Bearer <jwt>` from one of the configured identity providers, one
 * strategy for all of them. The key provider picks the provider the token's `iss` names, allows
 * only that provider's algorithms and takes the key from its PEM key or certificate or JWK set
 * (jwks-rsa); jsonwebtoken verifies the signature, its own allow-list being every algorithm a
 * provider may use (RS*, PS*, ES*). Issuer and audience differ per provider, so `validate()`
 * judges them with the other claims before mapping the caller.
 */
@Injectable()
export class ExternalJwtStrategy extends LocalPassportStrategy(JwtStrategy, 'external') {
  constructor(private readonly external: ExternalJwtService) {
    super({
      jwtFromRequest: bearerToken,
      secretOrKeyProvider: keyProvider((decoded) => external.keyFor(decoded)),
      algorithms: [...EXTERNAL_ALGORITHMS],
      ignoreExpiration: true,
      passReqToCallback: true,
      jsonWebTokenOptions: JWT_VERIFY_OPTIONS,
    });
  }

  async validate(request: StrategyRequest, { payload }: VerifiedJwt): Promise<ExternalVerified> {
    // The settings' generation when the IdP was asked: an answer begun under older settings is
    // used for this request but not remembered.
    const generation = this.external.generation;
    return { ...(await this.external.verified(bearerToken(request) ?? '', payload)), generation };
  }
}

/**
 * The `external` kind: a Bearer token an identity provider issued, taken wherever Warden's own
 * access token is. Routed by its issuer (a JWT) or by a provider's opaqueTokens pattern (an opaque
 * token, asked of that provider's introspection endpoint); remembered until the provider's answer
 * may no longer be trusted.
 */
@Injectable()
export class ExternalJwtKind extends CredentialKindHandler<ExternalVerified> {
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
  override readonly otherStrategies: Readonly<Record<string, object>>;

  constructor(
    readonly strategy: ExternalJwtStrategy,
    introspection: ExternalIntrospectionStrategy,
    private readonly external: ExternalJwtService,
  ) {
    super();
    this.otherStrategies = { 'external-introspection': introspection };
  }

  recognises({ presented }: PresentedRequest, remembered = false): boolean {
    // Only Warden's own access token goes without a scheme; an IdP's token is a Bearer token.
    if (presented.scheme !== 'bearer' || presented.token.startsWith(API_TOKEN_MARK)) return false;
    return remembered ? this.external.enabled : this.external.claims(presented.token) !== null;
  }

  override strategyFor({ presented }: PresentedRequest): string {
    return this.external.claims((presented as { token: string }).token) ?? 'external';
  }

  resolve(identity: ExternalVerified): Resolution {
    const keep = identity.generation === this.external.generation;
    const common = {
      kind: 'external' as const,
      credentialId: identity.credentialId,
      scopes: EXTERNAL_SCOPES,
      provider: identity.provider,
    };
    if (identity.localUserId) {
      // Local groups apply, administration does not: a name match is not a sign-in.
      return {
        remember: { ...common, userId: identity.localUserId },
        until: identity.trustUntil,
        keep,
      };
    }
    return {
      remember: {
        ...common,
        userId: '',
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
   * unless its provider allows it (allowAdminMapping): checked on every use, not only when mapped.
   */
  override onUse(
    principal: Principal,
    _input: PresentedRequest,
    _tools: unknown,
    remembered?: Remembered,
  ): void {
    if (
      principal.groups.includes(ADMIN_GROUP) &&
      !this.external.allowsAdminMapping(remembered?.provider)
    ) {
      const refused = adminMappingRefused(remembered?.provider ?? '');
      // The audit row names the administrator the token would have been.
      denyingPrincipal(refused, principal);
      throw refused;
    }
  }
}
