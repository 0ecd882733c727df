import { createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { assertKeyFits, JwsAlgorithm, JwsKey, JwtError } from '../../common/jwt/jws';
import { fetchJson, RemoteCallError } from '../../common/http/fetch-json';

export const JWKS_TIMEOUT_MS = 3000;
export const JWKS_MAX_BYTES = 256 * 1024;
const JWKS_MAX_KEYS = 100;
/** An unknown `kid` refreshes the set at most this often: a flood of made-up kids costs one fetch. */
export const JWKS_MIN_REFRESH_MS = 60_000;
/** A set this old is fetched again when a token uses it (keys rotate without new kids too). */
const JWKS_MAX_AGE_MS = 3_600_000;

/** Where an external token's verification key comes from. */
export interface KeySource {
  /** The key for this token's `kid` and `alg`, or null when there is none. */
  key(kid: string | undefined, alg: string, now: number): Promise<JwsKey | null>;
}

/** Every allowed algorithm the key fits, by the key's own classification (never by the token). */
function keysFor(key: KeyObject, algorithms: readonly string[], kid?: string): JwsKey[] {
  const keys: JwsKey[] = [];
  for (const alg of algorithms) {
    const candidate: JwsKey = { alg: alg as JwsAlgorithm, key, kid };
    try {
      assertKeyFits(candidate, 'verify');
      keys.push(candidate);
    } catch {
      // this algorithm does not fit this key
    }
  }
  return keys;
}

/**
 * `publicKey` mode: a PEM public key, or an X.509 certificate whose validity period is checked
 * on every use.
 */
export class StaticKeySource implements KeySource {
  private readonly keys: JwsKey[];
  private readonly validity?: { from: number; to: number };

  constructor(pem: string, algorithms: readonly string[]) {
    let key: KeyObject;
    if (pem.includes('BEGIN CERTIFICATE')) {
      const certificate = new X509Certificate(pem);
      key = certificate.publicKey;
      this.validity = {
        from: Date.parse(certificate.validFrom),
        to: Date.parse(certificate.validTo),
      };
    } else {
      key = createPublicKey(pem);
    }
    if (key.type !== 'public') throw new Error('Not a public key');
    this.keys = keysFor(key, algorithms);
    if (this.keys.length === 0) throw new Error('The key fits none of the allowed algorithms');
  }

  async key(_kid: string | undefined, alg: string, now: number): Promise<JwsKey | null> {
    if (this.validity && (now < this.validity.from || now > this.validity.to)) {
      throw new JwtError('unknown_key', "The IdP's certificate is not within its validity period");
    }
    return this.keys.find((k) => k.alg === alg) ?? null;
  }
}

/**
 * `jwks` mode: the IdP's JWK set, fetched on first use and kept; a `kid` it does not hold makes
 * it fetch the set again, at most once a minute (so a flood of unknown kids cannot hammer the
 * IdP), and a set an hour old is fetched again. Keys the new set drops are dropped with it.
 * `jku`, `x5u` and `jwk` token headers are never looked at: keys come from this URL only.
 */
export class JwksKeySource implements KeySource {
  private keys = new Map<string, JwsKey[]>();
  private unnamed: JwsKey[] = [];
  private fetchedAt = 0;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;
  private lastError: RemoteCallError | undefined;
  /** How many times the set was fetched (tests and the admin check read it). */
  fetches = 0;

  constructor(
    private readonly url: string,
    private readonly algorithms: readonly string[],
    private readonly allowHttp: boolean,
  ) {}

  async key(kid: string | undefined, alg: string, now: number): Promise<JwsKey | null> {
    const known = this.lookup(kid, alg);
    if (known) {
      if (now - this.fetchedAt > JWKS_MAX_AGE_MS && now - this.lastAttempt >= JWKS_MIN_REFRESH_MS)
        void this.refresh(now).catch(() => undefined);
      return known;
    }
    if (now - this.lastAttempt < JWKS_MIN_REFRESH_MS) {
      // Fetched a moment ago: the set has no such key. (A first fetch still in flight is joined.)
      if (this.inflight) await this.inflight.catch(() => undefined);
      // Never fetched: the IdP is unreachable, not the key unknown.
      if (this.fetchedAt === 0 && this.lastError) throw this.lastError;
      return this.lookup(kid, alg);
    }
    await this.refresh(now);
    return this.lookup(kid, alg);
  }

  private lookup(kid: string | undefined, alg: string): JwsKey | null {
    const candidates = kid === undefined ? this.unnamedOrOnly() : (this.keys.get(kid) ?? []);
    return candidates.find((k) => k.alg === alg) ?? null;
  }

  /** A token without `kid` is tried against the key the set names none for, or its only key. */
  private unnamedOrOnly(): JwsKey[] {
    if (this.unnamed.length > 0) return this.unnamed;
    return this.keys.size === 1 ? [...this.keys.values()][0] : [];
  }

  private refresh(now: number): Promise<void> {
    if (this.inflight) return this.inflight;
    this.lastAttempt = now;
    this.inflight = this.fetchSet(now).finally(() => (this.inflight = null));
    return this.inflight;
  }

  private async fetchSet(now: number): Promise<void> {
    this.fetches++;
    let answer: { status: number; body: unknown };
    try {
      answer = await fetchJson(this.url, {
        timeoutMs: JWKS_TIMEOUT_MS,
        maxBytes: JWKS_MAX_BYTES,
        allowHttp: this.allowHttp,
      });
    } catch (err) {
      this.lastError = unavailable(err);
      throw this.lastError;
    }
    const list = (answer.body as { keys?: unknown } | null)?.keys;
    if (answer.status !== 200 || !Array.isArray(list)) {
      this.lastError = new RemoteCallError(
        'status',
        `The JWKS URL answered ${answer.status} without a key set`,
        answer.status,
      );
      throw this.lastError;
    }
    this.lastError = undefined;
    const keys = new Map<string, JwsKey[]>();
    const unnamed: JwsKey[] = [];
    for (const jwk of list.slice(0, JWKS_MAX_KEYS)) {
      const parsed = this.parse(jwk);
      if (!parsed) continue;
      const { kid, fitting } = parsed;
      if (kid === undefined) unnamed.push(...fitting);
      else keys.set(kid, [...(keys.get(kid) ?? []), ...fitting]);
    }
    this.keys = keys;
    this.unnamed = unnamed;
    this.fetchedAt = now;
  }

  private parse(jwk: unknown): { kid?: string; fitting: JwsKey[] } | null {
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return null;
    const entry = jwk as Record<string, unknown>;
    // Only public signature keys: no symmetric keys, no private halves, no encryption keys.
    if (entry.kty === 'oct' || 'd' in entry) return null;
    if (entry.use !== undefined && entry.use !== 'sig') return null;
    if (entry.kid !== undefined && typeof entry.kid !== 'string') return null;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: entry as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      return null;
    }
    const allowed =
      typeof entry.alg === 'string'
        ? this.algorithms.filter((a) => a === entry.alg)
        : this.algorithms;
    const fitting = keysFor(key, allowed, entry.kid as string | undefined);
    return fitting.length > 0 ? { kid: entry.kid as string | undefined, fitting } : null;
  }
}

function unavailable(err: unknown): RemoteCallError {
  return err instanceof RemoteCallError
    ? err
    : new RemoteCallError('unreachable', err instanceof Error ? err.message : String(err));
}
