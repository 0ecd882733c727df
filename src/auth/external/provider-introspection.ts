import { hash } from 'node:crypto';
import { BoundedCache } from '../../common/bounded-cache';
import { JwtError } from '../../common/jwt/jws';
import { Problems } from '../../common/problem/domain-error';
import type { IdentityProvider } from '../../settings/settings.defaults';
import { ExternalIdentity, inactiveToken } from './external-identity';
import { introspect } from './introspection.client';

const MAX_INTROSPECTION_ENTRIES = 50_000;
/** Introspection calls in flight at most, per provider; beyond, a 503 rather than a queue at the IdP. */
const MAX_INTROSPECTIONS_IN_FLIGHT = 32;
/** How long an inactive answer is believed (never longer than introspectionCacheSeconds). */
const INACTIVE_CACHE_MS = 10_000;

/** What the service supplies: the provider's claim rules and mapping, and whether it still holds. */
export interface IntrospectionJudge {
  check(claims: Record<string, unknown>, now: number): void;
  map(claims: Record<string, unknown>, trustUntil: number): Promise<ExternalIdentity>;
  /** False once the provider's settings changed while it was asked: the answer is used, not kept. */
  current(): boolean;
}

/**
 * One provider's RFC 7662 introspection: its answers (mapped, small) until they may be trusted no
 * more, its inactive answers briefly, one call per token however many requests carry it at once,
 * and a bounded number of calls at once, so that tokens made up by the thousand cost the IdP a
 * bounded load.
 */
export class ProviderIntrospection {
  private readonly active = new BoundedCache<string, ExternalIdentity>(MAX_INTROSPECTION_ENTRIES);
  private readonly inactive = new BoundedCache<string, true>(MAX_INTROSPECTION_ENTRIES);
  private readonly pending = new Map<string, Promise<ExternalIdentity>>();

  constructor(
    private readonly provider: IdentityProvider,
    private readonly allowHttp: boolean,
  ) {}

  async judge(token: string, now: number, judge: IntrospectionJudge): Promise<ExternalIdentity> {
    const digest = hash('sha256', token, 'base64');
    const cached = this.active.get(digest, now);
    if (cached) return cached;
    if (this.inactive.get(digest, now)) throw inactiveToken();
    let pending = this.pending.get(digest);
    if (!pending) {
      if (this.pending.size >= MAX_INTROSPECTIONS_IN_FLIGHT) {
        throw Problems.unavailable(
          'The identity provider is being asked too much at once; retry shortly',
          'idp_busy',
        );
      }
      pending = this.ask(token, digest, now, judge).finally(() => this.pending.delete(digest));
      this.pending.set(digest, pending);
    }
    return pending;
  }

  private async ask(
    token: string,
    digest: string,
    now: number,
    judge: IntrospectionJudge,
  ): Promise<ExternalIdentity> {
    const s = this.provider;
    if (!s.introspectionUrl) throw new JwtError('unknown_key', 'No introspection URL is set');
    const claims = await introspect(token, {
      url: s.introspectionUrl,
      clientId: s.clientId,
      clientSecret: s.clientSecret,
      allowHttp: this.allowHttp,
    });
    if (!claims) {
      const forMs = Math.min(s.introspectionCacheSeconds * 1000, INACTIVE_CACHE_MS);
      if (forMs > 0 && judge.current()) this.inactive.set(digest, true, now + forMs);
      throw inactiveToken();
    }
    judge.check(claims, now);
    // Reused for the configured TTL, never past the token's exp.
    const ttl = now + s.introspectionCacheSeconds * 1000;
    const trustUntil = typeof claims.exp === 'number' ? Math.min(claims.exp * 1000, ttl) : ttl;
    const identity = await judge.map(claims, trustUntil);
    if (trustUntil > now && judge.current()) this.active.set(digest, identity, trustUntil);
    return identity;
  }
}
