import { JwksClient, SigningKey } from 'jwks-rsa';
import { createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { fetchJson, RemoteCallError } from '../../common/http/fetch-json';
import { assertKeyFits, DecodedJws, JwsAlgorithm, JwtError } from '../../common/jwt/jws';
import { DomainError, Problems } from '../../common/problem/domain-error';

export const JWKS_TIMEOUT_MS = 3000;
/** jwks-rsa reads any size; its fetcher (below) reads this much at most. */
export const JWKS_MAX_BYTES = 256 * 1024;
const JWKS_MAX_KEYS = 100;
/** An unknown `kid` fetches the set again at most this often: a flood of made-up kids costs one fetch. */
export const JWKS_MIN_REFRESH_MS = 60_000;
/** How long jwks-rsa keeps a key it found; then the next token using it fetches the set again. */
const JWKS_KEY_CACHE_MS = 600_000;
/**
 * jwks-rsa's limit on look-ups of kids it has not cached: a backstop. The set's own fetches are
 * bounded by JWKS_MIN_REFRESH_MS here, and a kid the set fetched a moment ago does not hold is
 * refused before jwks-rsa is asked, so made-up kids never use up this budget.
 */
const JWKS_LOOKUPS_PER_MINUTE = 30;

/** Where one provider's verification key comes from. */
export interface ProviderKeys {
  /** The key for a token's header, fitted to its algorithm; JwtError when there is none. */
  key(decoded: DecodedJws, now: number): KeyObject | Promise<KeyObject>;
}

/** A key that fits the algorithm the token names (by the key's own classification), or a JwtError. */
function fitted(key: KeyObject, alg: string): KeyObject {
  try {
    assertKeyFits({ alg: alg as JwsAlgorithm, key }, 'verify');
  } catch {
    throw new JwtError('unsupported_algorithm', 'The token does not fit the key it names');
  }
  return key;
}

/**
 * `publicKey` mode: a PEM public key, or an X.509 certificate whose validity period is checked
 * on every use.
 */
export class StaticProviderKey implements ProviderKeys {
  private readonly publicKey: KeyObject;
  private readonly validity?: { from: number; to: number };

  /** Throws when the text is no public key or certificate (a save refuses those first). */
  constructor(pem: string) {
    if (pem.includes('BEGIN CERTIFICATE')) {
      const certificate = new X509Certificate(pem);
      this.publicKey = certificate.publicKey;
      this.validity = {
        from: Date.parse(certificate.validFrom),
        to: Date.parse(certificate.validTo),
      };
    } else {
      this.publicKey = createPublicKey(pem);
    }
    if (this.publicKey.type !== 'public') throw new Error('Not a public key');
  }

  key(decoded: DecodedJws, now: number): KeyObject {
    if (this.validity && (now < this.validity.from || now > this.validity.to)) {
      throw new JwtError('unknown_key', "The IdP's certificate is not within its validity period");
    }
    return fitted(this.publicKey, decoded.header.alg);
  }
}

/**
 * `jwks` mode: the IdP's JWK set through jwks-rsa, which caches each key it finds by `kid`. Its
 * fetcher is Warden's own (fetchJson: 3 s timeout, 256 KiB cap, no redirects, https unless
 * WARDEN_IDP_ALLOW_HTTP) and fetches on first use, then at most once a minute: a kid the set
 * fetched within the minute does not hold is refused without asking jwks-rsa, and a set that
 * could not be fetched is not asked for again within the minute either. `jku`, `x5u` and `jwk`
 * token headers are never looked at: keys come from this URL only.
 */
export class JwksProviderKeys implements ProviderKeys {
  private readonly client: JwksClient;
  private readonly keyObjects = new WeakMap<SigningKey, KeyObject>();
  private fetched: { at: number; set: { keys: unknown[] }; kids: Set<string> } | null = null;
  private failed: { at: number; error: RemoteCallError } | null = null;
  private inflight: Promise<{ keys: unknown[] }> | null = null;
  /** The time of the look-up under way (jwks-rsa calls the fetcher without one). */
  private asking = 0;
  /** How many times the set was fetched from the IdP. */
  fetches = 0;

  constructor(
    private readonly url: string,
    private readonly allowHttp: boolean,
  ) {
    this.client = new JwksClient({
      jwksUri: url,
      fetcher: (uri) => this.fetchSet(uri),
      timeout: JWKS_TIMEOUT_MS,
      cache: true,
      cacheMaxEntries: JWKS_MAX_KEYS,
      cacheMaxAge: JWKS_KEY_CACHE_MS,
      rateLimit: true,
      jwksRequestsPerMinute: JWKS_LOOKUPS_PER_MINUTE,
    });
  }

  async key(decoded: DecodedJws, now: number): Promise<KeyObject> {
    const kid = decoded.header.kid;
    const fresh = this.fetched !== null && now - this.fetched.at < JWKS_MIN_REFRESH_MS;
    if (fresh && kid !== undefined && !this.fetched!.kids.has(kid)) throw unknownKey();
    if (!fresh && this.failed && now - this.failed.at < JWKS_MIN_REFRESH_MS) {
      // Asked a moment ago and it did not answer: not asked again yet.
      throw this.failed.error;
    }
    this.asking = now;
    let found: SigningKey;
    try {
      found = await this.client.getSigningKey(kid);
    } catch (err) {
      throw lookupFailure(err);
    }
    // A JWK that names its algorithm is for that algorithm only.
    if (found.alg !== undefined && found.alg !== decoded.header.alg)
      throw new JwtError('unsupported_algorithm', 'The token does not fit the key it names');
    let key = this.keyObjects.get(found);
    if (!key) {
      key = createPublicKey(found.getPublicKey());
      this.keyObjects.set(found, key);
    }
    return fitted(key, decoded.header.alg);
  }

  /** jwks-rsa's fetcher: the set fetched within the minute, or fetched now (once at a time). */
  private fetchSet(uri: string): Promise<{ keys: unknown[] }> {
    const now = this.asking;
    if (this.fetched && now - this.fetched.at < JWKS_MIN_REFRESH_MS)
      return Promise.resolve(this.fetched.set);
    this.inflight ??= this.download(uri, now).finally(() => (this.inflight = null));
    return this.inflight;
  }

  private async download(uri: string, now: number): Promise<{ keys: unknown[] }> {
    this.fetches++;
    try {
      const { status, body } = await fetchJson(uri, {
        timeoutMs: JWKS_TIMEOUT_MS,
        maxBytes: JWKS_MAX_BYTES,
        allowHttp: this.allowHttp,
      });
      const list = (body as { keys?: unknown } | null)?.keys;
      if (status !== 200 || !Array.isArray(list))
        throw new RemoteCallError(
          'status',
          `The JWKS URL answered ${status} without a key set`,
          status,
        );
      // Only public signature keys: jwks-rsa skips private halves, never symmetric keys here.
      const keys = list
        .slice(0, JWKS_MAX_KEYS)
        .filter((k): k is Record<string, unknown> => isObject(k) && k.kty !== 'oct' && !('d' in k));
      const set = { keys };
      this.fetched = {
        at: now,
        set,
        kids: new Set(
          keys.map((k) => k.kid).filter((kid): kid is string => typeof kid === 'string'),
        ),
      };
      this.failed = null;
      return set;
    } catch (err) {
      const error =
        err instanceof RemoteCallError
          ? err
          : new RemoteCallError('unreachable', err instanceof Error ? err.message : String(err));
      this.failed = { at: now, error };
      throw error;
    }
  }

  get source(): string {
    return this.url;
  }
}

function unknownKey(): JwtError {
  return new JwtError('unknown_key', 'Token was not signed by a key of the IdP');
}

/** jwks-rsa's failures as Warden's: the IdP away (503), too many look-ups (503), no such key (401). */
function lookupFailure(err: unknown): unknown {
  if (err instanceof RemoteCallError || err instanceof DomainError || err instanceof JwtError)
    return err;
  if (err instanceof Error && err.name === 'JwksRateLimitError')
    return Problems.unavailable(
      "The identity provider's keys are being looked up too often; retry shortly",
      'idp_busy',
    );
  return unknownKey();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
