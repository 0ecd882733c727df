import { Inject, Injectable, Logger } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { Clock } from '../../common/clock';
import { RemoteCallError } from '../../common/http/fetch-json';
import { checkClaims } from '../../common/jwt/claims';
import { EXTERNAL_ALGORITHMS } from '../../common/jwt/external-algorithms';
import { DecodedJws, JwtError } from '../../common/jwt/jws';
import { Problems } from '../../common/problem/domain-error';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { IdentityProvider, Settings } from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { UsersRepository } from '../directory/users.repository';
import { ExternalIdentity, identityOf } from './external-identity';
import { JwksProviderKeys, ProviderKeys, StaticProviderKey } from './identity-provider-keys';
import { ProviderIntrospection } from './provider-introspection';
import { ProviderRoute, routeToken } from './provider-routing';

export { adminMappingRefused, FORGE_ISSUER, FORGE_JWKS_URL } from './external-identity';
export type { ExternalIdentity } from './external-identity';

/**
 * RFC 8725 §3.10: clocks differ; the IdP's by at most this much
 * (docs/integrations/identity-providers.md#verification).
 */
const EXTERNAL_SKEW_SECONDS = 60;
/** While an IdP cannot be asked, one log line per this period says why. */
const IDP_DOWN_LOG_EVERY_MS = 10_000;

/** The strategies external tokens run through: signed JWTs, and what an IdP is asked about. */
export type ExternalStrategyName = 'external' | 'external-introspection';

/**
 * The `external` credential kind: a bearer token from one of the configured identity
 * providers — a JWT routed by its `iss` and verified with that provider's PEM key or
 * certificate or JWK set (by passport-jwt, ExternalJwtStrategy), or a token its introspection
 * endpoint is asked about (ExternalIntrospectionStrategy) — then mapped to a username and groups
 * by that provider's rules.
 *
 * Each provider's key source and introspection caches are its own, kept under a signature of
 * the settings they depend on: a change to one provider leaves the others' caches as they are.
 */
@Injectable()
export class ExternalJwtService {
  private readonly logger = new Logger('external-jwt');
  private readonly keySources = new Map<string, { signature: string; keys: ProviderKeys }>();
  private readonly introspections = new Map<
    string,
    { signature: string; introspection: ProviderIntrospection }
  >();
  /** When each provider's unavailability was last logged (once per IDP_DOWN_LOG_EVERY_MS at most). */
  private readonly downLoggedAt = new Map<string, number>();

  /** Bumped on every settings change: an answer begun under older settings is not kept. */
  generation = 0;

  constructor(
    private readonly settings: SettingsService,
    private readonly users: UsersRepository,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    settings.onChange((next) => {
      this.generation++;
      this.forgetChanged(next);
    });
  }

  get enabled(): boolean {
    return this.settings.get().identityProviders.some((p) => p.enabled);
  }

  /**
   * Whether a bearer token that is not an API token goes to an IdP rather than to Warden's own
   * verification (routeToken), and through which strategy: null when none of the providers
   * takes it. Warden's own issuer never goes out; an opaque token only to the provider whose
   * opaqueTokens pattern claims it.
   */
  claims(token: string): ExternalStrategyName | null {
    const route = this.route(token);
    if (!route) return null;
    return route.by === 'signature' ? 'external' : 'external-introspection';
  }

  /** The provider that would judge this token, and how (the admin tester names it). */
  route(token: string): ProviderRoute | null {
    const settings = this.settings.get();
    return routeToken(settings.identityProviders, token, {
      nativeAllowed: settings.nativeOAuthTokens.allowed,
      wardenIssuer: this.config.issuer,
    });
  }

  /** Whether the named provider lets mapToLocalUser name an administrator (checked on every use). */
  allowsAdminMapping(provider: string | undefined): boolean {
    return this.provider(provider)?.allowAdminMapping === true;
  }

  /**
   * passport-jwt's key look-up: the provider the token's (not yet trusted) `iss` names, the
   * algorithm its header names only if that provider allows it, and the key from that provider's
   * source, fitted to the algorithm by the key's own classification. The claims are judged first
   * (checkClaims), so that a token that cannot pass costs no JWKS fetch.
   */
  keyFor(decoded: DecodedJws): KeyObject | Promise<KeyObject> {
    const provider = this.signer(decoded.payload.iss);
    const alg = decoded.header.alg;
    if (
      !provider.algorithms.includes(alg) ||
      !(EXTERNAL_ALGORITHMS as readonly string[]).includes(alg)
    )
      throw new JwtError('unsupported_algorithm', `Algorithm ${alg} is not accepted`);
    const now = this.clock.now();
    this.checkClaims(decoded.payload, provider, now, true);
    const found = this.keys(provider).key(decoded, now);
    return found instanceof Promise ? found.catch((err) => this.unavailable(err, provider)) : found;
  }

  /** What passport-jwt verified, judged by the provider its `iss` names, and mapped. */
  async verified(token: string, payload: Record<string, unknown>): Promise<ExternalIdentity> {
    const provider = this.signer(payload.iss);
    const now = this.clock.now();
    this.checkClaims(payload, provider, now, true);
    return identityOf(token, payload, (payload.exp as number) * 1000, provider, this.users);
  }

  /** An opaque token (or a JWT of an introspection provider's issuer), asked about at its provider. */
  async introspect(token: string): Promise<ExternalIdentity> {
    const route = this.route(token);
    if (route?.by !== 'introspection')
      throw new JwtError('unknown_key', 'No identity provider takes this token');
    const provider = route.provider;
    const entry = this.introspectionFor(provider);
    try {
      return await entry.judge(token, this.clock.now(), {
        check: (claims, now) => this.checkClaims(claims, provider, now, false),
        map: (claims, trustUntil) => identityOf(token, claims, trustUntil, provider, this.users),
        current: () => this.introspections.get(provider.name)?.introspection === entry,
      });
    } catch (err) {
      return this.unavailable(err, provider);
    }
  }

  private provider(name: string | undefined): IdentityProvider | undefined {
    return this.settings.get().identityProviders.find((p) => p.name === name);
  }

  /** The enabled signature-mode provider whose issuer the token names. */
  private signer(iss: unknown): IdentityProvider {
    const provider = this.settings
      .get()
      .identityProviders.find(
        (p) => p.enabled && p.mode !== 'introspection' && p.issuer !== null && p.issuer === iss,
      );
    if (!provider) throw new JwtError('wrong_issuer', 'No identity provider has this issuer');
    return provider;
  }

  private checkClaims(
    claims: Record<string, unknown>,
    provider: IdentityProvider,
    now: number,
    requireExp: boolean,
  ): void {
    checkClaims(claims, {
      // RFC 7662 §2.2 makes iss optional in an introspection answer; when given it must match.
      issuer: requireExp || claims.iss !== undefined ? (provider.issuer ?? undefined) : undefined,
      audience: provider.audience ?? undefined,
      requireExp,
      nowSeconds: Math.floor(now / 1000),
      skewSeconds: EXTERNAL_SKEW_SECONDS,
    });
    if (claims.iss === this.config.issuer) {
      throw new JwtError('wrong_issuer', "A token of Warden's own is not an external token");
    }
  }

  private keys(provider: IdentityProvider): ProviderKeys {
    const signature = JSON.stringify([provider.mode, provider.publicKey, provider.jwksUrl]);
    const known = this.keySources.get(provider.name);
    if (known?.signature === signature) return known.keys;
    let keys: ProviderKeys;
    if (provider.mode === 'jwks') {
      if (!provider.jwksUrl) throw new JwtError('unknown_key', 'No JWKS URL is set');
      keys = new JwksProviderKeys(provider.jwksUrl, this.config.idpAllowHttp);
    } else {
      if (!provider.publicKey) throw new JwtError('unknown_key', 'No public key is set');
      try {
        keys = new StaticProviderKey(provider.publicKey);
      } catch (err) {
        throw new JwtError(
          'unknown_key',
          `The configured public key is unusable: ${(err as Error).message}`,
        );
      }
    }
    this.keySources.set(provider.name, { signature, keys });
    return keys;
  }

  private introspectionFor(provider: IdentityProvider): ProviderIntrospection {
    // The cache holds mapped identities: any change to the provider makes them stale.
    const signature = JSON.stringify(provider);
    const known = this.introspections.get(provider.name);
    if (known?.signature === signature) return known.introspection;
    const introspection = new ProviderIntrospection(provider, this.config.idpAllowHttp);
    this.introspections.set(provider.name, { signature, introspection });
    return introspection;
  }

  /** Providers removed or changed lose what was learnt of them; the others keep it. */
  private forgetChanged(next: Settings): void {
    const byName = new Map(next.identityProviders.map((p) => [p.name, p]));
    for (const [name, { signature }] of this.keySources) {
      const p = byName.get(name);
      if (!p || signature !== JSON.stringify([p.mode, p.publicKey, p.jwksUrl]))
        this.keySources.delete(name);
    }
    for (const [name, { signature }] of this.introspections) {
      const p = byName.get(name);
      if (!p || signature !== JSON.stringify(p)) this.introspections.delete(name);
    }
  }

  /**
   * An IdP that could not be asked is a 503: the caller may be anyone, so it is told what went
   * wrong, not where; the operator gets the address and the error in the log.
   */
  private unavailable(err: unknown, provider: IdentityProvider): never {
    if (!(err instanceof RemoteCallError)) throw err;
    const now = this.clock.now();
    if (now - (this.downLoggedAt.get(provider.name) ?? -Infinity) >= IDP_DOWN_LOG_EVERY_MS) {
      this.downLoggedAt.set(provider.name, now);
      this.logger.warn(`Identity provider "${provider.name}" could not be asked: ${err.message}`);
    }
    throw Problems.unavailable(
      `The identity provider could not be asked: ${err.withoutParty()}`,
      'idp_unavailable',
    );
  }
}
