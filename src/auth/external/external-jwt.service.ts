import { Inject, Injectable, Logger } from '@nestjs/common';
import { hash } from 'node:crypto';
import { BoundedCache } from '../../common/bounded-cache';
import { Clock } from '../../common/clock';
import { RemoteCallError } from '../../common/http/fetch-json';
import { checkClaims } from '../../common/jwt/claims';
import { decodeJws, JwtError, verifyJwsSignature } from '../../common/jwt/jws';
import { DomainError, Problems } from '../../common/problem/domain-error';
import { ADMIN_GROUP, ForgeInvocation } from '../../common/principal';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { Settings } from '../../restrictions/settings.defaults';
import { SettingsService } from '../../restrictions/settings.service';
import { UsersRepository } from '../directory/users.repository';
import { JwksKeySource, KeySource, StaticKeySource } from './external-keys';
import { introspect } from './introspection.client';
import { sentToProvider } from './provider-routing';

type ExternalSettings = Settings['externalJwt'];

/** Bounds on what a token's claims can make Warden hold. */
const MAX_USERNAME = 255;
const MAX_GROUPS = 200;
const MAX_GROUP_NAME = 255;
const MAX_INTROSPECTION_ENTRIES = 50_000;
/** Introspection calls in flight at most; beyond, a 503 rather than a queue at the IdP. */
const MAX_INTROSPECTIONS_IN_FLIGHT = 32;
/** How long an inactive answer is believed (never longer than introspectionCacheSeconds). */
const INACTIVE_CACHE_MS = 10_000;
/**
 * Local usernames' alphabet (directory DTO) plus `:` and `/`, which identifiers such as Atlassian
 * account ids and ARIs carry: nothing a header refuses, no control characters.
 */
const USERNAME = /^[\p{L}\p{N}._@+:/-]+$/u;
/** A jti is named in headers and audit rows only when it is short and plain. */
const CREDENTIAL_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** RFC 8725 §3.10: clocks differ; the IdP's by at most this much (the DESIGN cap). */
const EXTERNAL_SKEW_SECONDS = 60;

/** Who an external token stands for, once verified and mapped. */
export interface ExternalIdentity {
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
  /** The settings' generation the answer was begun under (set by the strategy). */
  generation?: number;
}

/** While the IdP cannot be asked, one log line per this period says why. */
const IDP_DOWN_LOG_EVERY_MS = 10_000;

/**
 * Forge Remote (Atlassian, "Verifying remote requests"): a Forge invocation token is an RS256 JWT
 * from this issuer, its keys in this JWK set, its audience the app's id
 * (`ari:cloud:ecosystem::app/<uuid>`); `app.installationId` names the installation and
 * `principal` the account that triggered the call.
 */
export const FORGE_ISSUER = 'forge/invocation-token';
export const FORGE_JWKS_URL = 'https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json';

/**
 * The `external` credential kind: a bearer token from the configured identity provider,
 * verified by a PEM key or certificate, a JWK set, or RFC 7662 introspection, then mapped to a
 * username (a claim, narrowed by an anchored regex) and groups (a claim).
 */
@Injectable()
export class ExternalJwtService {
  private readonly logger = new Logger('external-jwt');
  /** When the IdP's unavailability was last logged (once per IDP_DOWN_LOG_EVERY_MS at most). */
  private idpDownLoggedAt = -Infinity;
  private source: { for: string; source: KeySource } | null = null;
  private usernamePattern: { for: string; pattern: RegExp } | null = null;
  /** Introspection answers, mapped (small), until the time they may be trusted to. */
  private readonly introspected = new BoundedCache<string, ExternalIdentity>(
    MAX_INTROSPECTION_ENTRIES,
  );

  /** Tokens the IdP called inactive, briefly, so that repeating one costs it nothing. */
  private readonly inactive = new BoundedCache<string, true>(MAX_INTROSPECTION_ENTRIES);
  private readonly pendingIntrospections = new Map<string, Promise<ExternalIdentity>>();

  constructor(
    private readonly settings: SettingsService,
    private readonly users: UsersRepository,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    // A new document may name another key, URL or endpoint: nothing learnt before is kept.
    settings.onChange(() => {
      this.generation++;
      this.source = null;
      this.introspected.clear();
      this.inactive.clear();
    });
  }

  /** Bumped on every settings change: an answer begun under older settings is not kept. */
  generation = 0;

  get enabled(): boolean {
    return this.settings.get().externalJwt.enabled;
  }

  /**
   * Whether a bearer token that is not an API token goes to the IdP rather than to Warden's own
   * verification (sentToProvider): Warden's own issuer never goes out, and in introspection mode
   * only what the provider's opaqueTokens pattern or issuer recognises does.
   */
  claims(token: string): boolean {
    const settings = this.settings.get();
    return sentToProvider(settings.externalJwt, token, {
      nativeAllowed: settings.nativeOAuthTokens.allowed,
      wardenIssuer: this.config.issuer,
    });
  }

  /** Verifies and maps; JwtError (401) when the token is not good, 503 when the IdP is away. */
  async verify(token: string): Promise<ExternalIdentity> {
    const s = this.settings.get().externalJwt;
    if (!s.enabled) throw new JwtError('unknown_key', 'External tokens are switched off');
    const now = this.clock.now();
    try {
      if (s.mode !== 'introspection') {
        const { claims, trustUntil } = await this.verifySignature(token, s, now);
        return await this.identity(token, claims, trustUntil, s);
      }
      const digest = hash('sha256', token, 'base64');
      const cached = this.introspected.get(digest, now);
      if (cached) return cached;
      if (this.inactive.get(digest, now)) throw inactiveToken();
      // One call per token however many requests carry it at once, and a bounded number in all:
      // tokens made up by the thousand cost the IdP a bounded load, not one call each.
      let pending = this.pendingIntrospections.get(digest);
      if (!pending) {
        if (this.pendingIntrospections.size >= MAX_INTROSPECTIONS_IN_FLIGHT) {
          throw Problems.unavailable(
            'The identity provider is being asked too much at once; retry shortly',
            'idp_busy',
          );
        }
        pending = this.introspectAndMap(token, digest, s, now).finally(() =>
          this.pendingIntrospections.delete(digest),
        );
        this.pendingIntrospections.set(digest, pending);
      }
      return await pending;
    } catch (err) {
      if (err instanceof RemoteCallError) {
        // The caller may be anyone: told what went wrong, not where. The operator gets the
        // address and the error in the log.
        if (now - this.idpDownLoggedAt >= IDP_DOWN_LOG_EVERY_MS) {
          this.idpDownLoggedAt = now;
          this.logger.warn(`The identity provider could not be asked: ${err.message}`);
        }
        throw Problems.unavailable(
          `The identity provider could not be asked: ${err.withoutParty()}`,
          'idp_unavailable',
        );
      }
      throw err;
    }
  }

  private async verifySignature(
    token: string,
    s: ExternalSettings,
    now: number,
  ): Promise<{ claims: Record<string, unknown>; trustUntil: number }> {
    const decoded = decodeJws(token);
    const alg = decoded.header.alg;
    // The allow-list is the settings'; the token's header only names which entry it claims.
    if (!s.algorithms.includes(alg) || alg === 'none' || alg.startsWith('HS')) {
      throw new JwtError('unsupported_algorithm', `Algorithm ${alg} is not accepted`);
    }
    const key = await this.keySource(s).key(decoded.header.kid, alg, now);
    if (!key) throw new JwtError('unknown_key', 'Token was not signed by a key of the IdP');
    verifyJwsSignature(decoded, key);
    this.checkCommon(decoded.payload, s, now);
    return { claims: decoded.payload, trustUntil: (decoded.payload.exp as number) * 1000 };
  }

  private async introspectAndMap(
    token: string,
    digest: string,
    s: ExternalSettings,
    now: number,
  ): Promise<ExternalIdentity> {
    if (!s.introspectionUrl) throw new JwtError('unknown_key', 'No introspection URL is set');
    const generation = this.generation;
    const claims = await introspect(token, {
      url: s.introspectionUrl,
      clientId: s.clientId,
      clientSecret: s.clientSecret,
      allowHttp: this.config.idpAllowHttp,
    });
    if (!claims) {
      const forMs = Math.min(s.introspectionCacheSeconds * 1000, INACTIVE_CACHE_MS);
      if (forMs > 0 && generation === this.generation) this.inactive.set(digest, true, now + forMs);
      throw inactiveToken();
    }
    this.checkCommon(claims, s, now, false);
    const trustUntil = this.trustUntil(claims, s, now);
    const identity = await this.identity(token, claims, trustUntil, s);
    // Kept only if no settings change came while the IdP was asked.
    if (trustUntil > now && generation === this.generation)
      this.introspected.set(digest, identity, trustUntil);
    return identity;
  }

  /** An introspection answer is reused for the configured TTL, never past the token's exp. */
  private trustUntil(claims: Record<string, unknown>, s: ExternalSettings, now: number): number {
    const ttl = now + s.introspectionCacheSeconds * 1000;
    return typeof claims.exp === 'number' ? Math.min(claims.exp * 1000, ttl) : ttl;
  }

  private checkCommon(
    claims: Record<string, unknown>,
    s: ExternalSettings,
    now: number,
    requireExp = true,
  ): void {
    checkClaims(claims, {
      // RFC 7662 §2.2 makes iss optional in an introspection answer; when given it must match.
      issuer: requireExp || claims.iss !== undefined ? (s.issuer ?? undefined) : undefined,
      audience: s.audience ?? undefined,
      requireExp,
      nowSeconds: Math.floor(now / 1000),
      skewSeconds: EXTERNAL_SKEW_SECONDS,
    });
    if (claims.iss === this.config.issuer) {
      throw new JwtError('wrong_issuer', "A token of Warden's own is not an external token");
    }
  }

  private async identity(
    token: string,
    claims: Record<string, unknown>,
    trustUntil: number,
    s: ExternalSettings,
  ): Promise<ExternalIdentity> {
    const raw = claimAt(claims, s.usernameClaim);
    if (typeof raw !== 'string' || raw === '') {
      throw new JwtError('bad_claim', `Claim ${s.usernameClaim} (the username) is missing`);
    }
    let username = raw.slice(0, 4 * MAX_USERNAME);
    if (s.usernameRegex) {
      const match = this.pattern(s.usernameRegex).exec(username);
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
      const local = await this.users.findByUsername(username);
      if (local && !s.allowAdminMapping && local.groups?.some((g) => g.name === ADMIN_GROUP))
        throw adminMappingRefused();
      if (local) identity.localUserId = local.id;
    }
    return identity;
  }

  private keySource(s: ExternalSettings): KeySource {
    const signature = JSON.stringify([s.mode, s.publicKey, s.jwksUrl, s.algorithms]);
    if (this.source?.for !== signature) {
      let source: KeySource;
      if (s.mode === 'jwks') {
        if (!s.jwksUrl) throw new JwtError('unknown_key', 'No JWKS URL is set');
        source = new JwksKeySource(s.jwksUrl, s.algorithms, this.config.idpAllowHttp);
      } else {
        if (!s.publicKey) throw new JwtError('unknown_key', 'No public key is set');
        try {
          source = new StaticKeySource(s.publicKey, s.algorithms);
        } catch (err) {
          throw new JwtError(
            'unknown_key',
            `The configured public key is unusable: ${(err as Error).message}`,
          );
        }
      }
      this.source = { for: signature, source };
    }
    return this.source.source;
  }

  private pattern(source: string): RegExp {
    if (this.usernamePattern?.for !== source) {
      // Anchored whatever the operator wrote: a partial match must not pass.
      this.usernamePattern = { for: source, pattern: new RegExp(`^(?:${source})$`) };
    }
    return this.usernamePattern.pattern;
  }
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
 * otherwise (externalJwt.allowAdminMapping). Whoever controls usernames at the IdP would
 * otherwise be named as that administrator to the upstream behind the decision endpoint.
 */
export function adminMappingRefused(): DomainError {
  return Problems.forbidden(
    'admin_mapping_refused',
    "The token's user is a Warden administrator, and identity provider tokens are not mapped to administrators (externalJwt.allowAdminMapping is off)",
  );
}

function inactiveToken(): JwtError {
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
