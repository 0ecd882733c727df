import { Inject, Injectable } from '@nestjs/common';
import { createPublicKey, KeyObject, timingSafeEqual } from 'node:crypto';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { checkClaims } from '../common/jwt/claims';
import { DecodedJws, JwtError } from '../common/jwt/jws';
import { assertAlgorithmOfKey } from '../common/jwt/passport-jwt';
import { RemoteKeySource } from '../common/jwt/remote-key-source';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';
import { CONTEXT_QSH, QshError, qshOf } from './qsh';
import { LiveTenant, TenantDirectory } from './tenants/tenant-directory.service';

/** Where the request being judged was sent: method and request target (path and query). */
export interface ConnectTarget {
  method: string;
  url: string;
}

export interface ConnectRequestClaims {
  tenant: LiveTenant;
  /** The Atlassian account the host acted for, when a user was involved. */
  accountId?: string;
  /** A `context-qsh` token (issued to the app's front end), not bound to one request. */
  context: boolean;
  exp: number;
}

export interface LifecycleClaims {
  clientKey: string;
  iat: number;
  exp: number;
}

/** Lifecycle tokens are short-lived; a key server slower than this fails the install. */
const INSTALL_KEY_TIMEOUT_MS = 5000;
/**
 * Expected qsh of recent request targets: a host calls the same few resources over and over, and
 * canonicalising and hashing the request is a fair share of a request token's cost. Bounded in
 * entries and in target length (at most some 2 MB); targets with the token in the query are each
 * new, so they are never kept.
 */
const QSH_CACHE_ENTRIES = 1000;
const QSH_CACHE_MAX_TARGET = 2048;

/**
 * The two Connect JWT kinds:
 *
 * - `connect`: HS256 with the tenant's shared secret (the tenant named by `iss`), `exp`
 *   required, `qsh` equal to the hash of this request's canonical form, or `context-qsh` where
 *   the route takes context tokens.
 * - `connect-install`: the signed lifecycle callbacks, RS256 with Atlassian's key for the
 *   token's `kid` (CONNECT_KEYS_URL, then the fallback), `aud` our base URL, `qsh` of the
 *   callback, `exp` required; the caller checks `iss` against the body's clientKey.
 *
 * Neither is accepted as the other: the algorithm comes from the key (a tenant's secret is
 * HS256 only, an install key RS256 only) and the lifecycle routes take only `connect-install`.
 */
@Injectable()
export class ConnectJwtService {
  private readonly installKeys: RemoteKeySource;
  private readonly contextPath: string;
  private readonly audiences: string[];
  private readonly expectedQsh = new BoundedCache<string, string>(QSH_CACHE_ENTRIES);

  constructor(
    private readonly tenants: TenantDirectory,
    private readonly clock: Clock,
    @Inject(WARDEN_CONFIG) config: WardenConfig,
  ) {
    const base = new URL(config.baseUrl);
    this.contextPath = base.pathname.replace(/\/+$/, '');
    // Atlassian sends the descriptor's baseUrl; one with or without a trailing slash is ours.
    this.audiences = [config.baseUrl, `${config.baseUrl}/`];
    this.installKeys = new RemoteKeySource({
      baseUrls: [config.connect.keysUrl, config.connect.keysFallbackUrl].filter(Boolean),
      parse: (pem) => createPublicKey(pem),
      alg: 'RS256',
      // Operators choose these URLs; the token only chooses a kid under them.
      allowHttp: true,
      accept: 'application/x-pem-file, text/plain',
      timeoutMs: INSTALL_KEY_TIMEOUT_MS,
    });
  }

  /**
   * The key of a request token: the unverified `iss` only picks the tenant whose shared secret
   * must verify it (HS256, the one algorithm a shared secret is for).
   */
  requestKey(decoded: DecodedJws): KeyObject {
    const iss = decoded.payload.iss;
    if (typeof iss !== 'string' || iss === '')
      throw new JwtError('bad_claim', 'Claim iss (the tenant) is required');
    const tenant = this.tenants.get(iss);
    if (!tenant) throw new JwtError('unknown_key', 'The token names no installed tenant');
    assertAlgorithmOfKey(decoded, 'HS256');
    return tenant.secret;
  }

  /** A request token whose signature the tenant's secret verified: tenant state, times, qsh. */
  requestClaims(
    payload: Record<string, unknown>,
    target: ConnectTarget,
    allowContext: boolean,
  ): ConnectRequestClaims {
    const tenant = this.tenants.get(payload.iss as string);
    // Only now, with the signature checked, may the token's own statements be relied on.
    if (!tenant?.active)
      throw new JwtError('unknown_key', 'The tenant is not installed or is disabled');
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    checkClaims(payload, { requireExp: true, nowSeconds });
    const context = this.checkQsh(payload, target, allowContext);
    return { tenant, accountId: accountOf(payload), context, exp: payload.exp as number };
  }

  /**
   * The key of a lifecycle callback's token, Atlassian's for its `kid`. Its claims are judged
   * before the key is fetched (a token that cannot pass costs no call to the key server); nothing
   * is trusted until jsonwebtoken has verified the signature with the key returned.
   * `caller`: the client's address, charged when the token names a key not yet fetched.
   */
  async lifecycleKey(decoded: DecodedJws, target: ConnectTarget, caller = ''): Promise<KeyObject> {
    if (decoded.header.alg !== 'RS256')
      throw new JwtError('unsupported_algorithm', 'Lifecycle callbacks must be signed with RS256');
    this.lifecycleClaims(decoded.payload, target);
    const key = await this.installKeys.key(decoded.header.kid, this.clock.now(), caller);
    return key.key;
  }

  /** What a lifecycle token must say: `iss`, `exp`, whole-second `iat`, our `aud`, the callback's qsh. */
  lifecycleClaims(payload: Record<string, unknown>, target: ConnectTarget): LifecycleClaims {
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    checkClaims(payload, { requireExp: true, requiredStrings: ['iss'], nowSeconds });
    // `iat` orders the callbacks of a tenant: a token older than the last one accepted is refused.
    if (!Number.isSafeInteger(payload.iat))
      throw new JwtError(
        'bad_claim',
        'Claim iat is required on lifecycle callbacks (whole seconds)',
      );
    const aud = payload.aud;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.some((a) => typeof a === 'string' && this.audiences.includes(a)))
      throw new JwtError('wrong_audience', 'The token is not for this app (aud)');
    if (this.checkQsh(payload, target, false))
      throw new JwtError('bad_claim', 'A lifecycle token must be bound to its callback');
    return {
      clientKey: payload.iss as string,
      iat: payload.iat as number,
      exp: payload.exp as number,
    };
  }

  /** True for an accepted context token; throws unless `qsh` matches the request. */
  private checkQsh(
    payload: Record<string, unknown>,
    target: ConnectTarget,
    allowContext: boolean,
  ): boolean {
    const qsh = payload.qsh;
    if (typeof qsh !== 'string') throw new JwtError('bad_claim', 'Claim qsh is required');
    if (qsh === CONTEXT_QSH) {
      if (allowContext) return true;
      throw new JwtError(
        'bad_claim',
        'A context token (context-qsh) is not accepted on this route',
      );
    }
    const expected = this.expectedQshOf(target);
    const a = Buffer.from(qsh);
    const b = Buffer.from(expected);
    if (a.length !== b.length || !timingSafeEqual(a, b))
      throw new JwtError('bad_claim', 'The query string hash (qsh) does not match this request');
    return false;
  }

  private expectedQshOf(target: ConnectTarget): string {
    const cacheable = target.url.length <= QSH_CACHE_MAX_TARGET && !target.url.includes('jwt=');
    const key = `${target.method} ${target.url}`;
    const cached = cacheable ? this.expectedQsh.get(key) : undefined;
    if (cached !== undefined) return cached;
    let expected: string;
    try {
      expected = qshOf(target.method, target.url, this.contextPath);
    } catch (err) {
      if (err instanceof QshError) throw new JwtError('bad_claim', err.message);
      throw err;
    }
    if (cacheable) this.expectedQsh.set(key, expected);
    return expected;
  }
}

/** `sub` in current tokens; `context.user.accountId` in older ones. */
function accountOf(payload: Record<string, unknown>): string | undefined {
  if (typeof payload.sub === 'string' && payload.sub !== '') return payload.sub;
  const context = payload.context as { user?: { accountId?: unknown } } | undefined;
  const legacy = context?.user?.accountId;
  return typeof legacy === 'string' && legacy !== '' ? legacy : undefined;
}
