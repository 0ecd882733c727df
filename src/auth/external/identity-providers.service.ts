import { Inject, Injectable } from '@nestjs/common';
import { JwtError } from '../../common/jwt/jws';
import { DomainError } from '../../common/problem/domain-error';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import {
  IDENTITY_PROVIDER_DEFAULTS,
  IdentityProvider,
  Settings,
} from '../../settings/settings.defaults';
import { SettingsActor, SettingsService } from '../../settings/settings.service';
import { StrategyRunner } from '../strategies/strategy-runner';
import { TokenTestView } from './dto/identity-providers.dto';
import {
  ExternalIdentity,
  ExternalJwtService,
  FORGE_ISSUER,
  FORGE_JWKS_URL,
} from './external-jwt.service';
import { unverifiedIssuer } from './provider-routing';

/** The administrators' side of identity providers: presets and the token tester. */
@Injectable()
export class IdentityProvidersService {
  constructor(
    private readonly settings: SettingsService,
    private readonly external: ExternalJwtService,
    private readonly strategies: StrategyRunner,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {}

  /**
   * Forge Remote: the provider of this name (added, or replaced whole) takes a Forge app's
   * invocation tokens — Atlassian's JWK set and issuer, the app's id as audience. The other
   * providers are left as they are. Returns the document as saved, secrets masked.
   */
  async forgeRemote(
    name: string,
    body: { appId: string; caller?: 'installation' | 'account' },
    actor: SettingsActor,
  ): Promise<Settings> {
    return this.put(
      {
        ...IDENTITY_PROVIDER_DEFAULTS,
        name,
        enabled: true,
        mode: 'jwks',
        jwksUrl: FORGE_JWKS_URL,
        issuer: FORGE_ISSUER,
        audience: body.appId,
        algorithms: ['RS256'],
        usernameClaim: body.caller === 'account' ? 'principal' : 'app.installationId',
      },
      actor,
    );
  }

  /** Adds the provider, or replaces the one of the same name in place. */
  private async put(provider: IdentityProvider, actor: SettingsActor): Promise<Settings> {
    const list = structuredClone(this.settings.get().identityProviders);
    const index = list.findIndex((p) => p.name === provider.name);
    if (index >= 0) list[index] = provider;
    else list.push(provider);
    const saved = await this.settings.patch(
      { identityProviders: list },
      { ifMatch: '*', force: false, actor },
    );
    return this.settings.masked(saved);
  }

  /**
   * Which provider judges a token and what it made of it, through the same strategies as a
   * request; never the token itself.
   */
  async test(token: string): Promise<TokenTestView> {
    const strategy = this.external.claims(token);
    if (!strategy) return { provider: null, valid: false, ...this.unrouted(token) };
    const provider = this.external.route(token)!.provider.name;
    try {
      const identity = await this.strategies.run<ExternalIdentity>(strategy, {
        headers: { authorization: `Bearer ${token}` },
        ip: '',
      });
      return {
        provider,
        valid: true,
        username: identity.username,
        groups: identity.groups,
        subject: identity.subject,
        issuer: identity.issuer,
        localUser: identity.localUserId !== undefined,
      };
    } catch (err) {
      if (err instanceof JwtError)
        return { provider, valid: false, reason: err.reason, detail: err.message };
      if (err instanceof DomainError)
        return { provider, valid: false, reason: err.code, detail: err.detail };
      throw err;
    }
  }

  /** Why no provider takes a token. */
  private unrouted(token: string): { reason: string; detail: string } {
    const iss = unverifiedIssuer(token);
    const providers = this.settings.get().identityProviders;
    if (iss === undefined)
      return {
        reason: 'no_provider',
        detail: "No enabled introspection provider's opaqueTokens pattern claims this token",
      };
    if (iss === this.config.issuer)
      return { reason: 'wrong_issuer', detail: "A token of Warden's own is not an external token" };
    const disabled = providers.find((p) => p.issuer === iss && !p.enabled);
    if (disabled)
      return {
        reason: 'provider_disabled',
        detail: `Provider "${disabled.name}" has this issuer and is switched off`,
      };
    return { reason: 'wrong_issuer', detail: "No identity provider has the token's issuer" };
  }
}
