import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  JsonWebKey,
  KeyObject,
} from 'node:crypto';
import { SecretBox } from '../../common/crypto/secret-box';
import { assertKeyFits, JwsAlgorithm, JwsKey } from '../../common/jwt/jws';
import {
  SIGNING_ALGORITHMS,
  SigningAlgorithm,
  WARDEN_CONFIG,
  WardenConfig,
} from '../../config/warden-config';
import { SettingsService } from '../../restrictions/settings.service';
import { SigningKeyEntity } from './signing-key.entity';
import { SigningKeysRepository } from './signing-keys.repository';

/** How often keys rotated by another instance are picked up. */
const RELOAD_INTERVAL_MS = 60_000;
/** An unknown `kid` triggers at most one reload per this interval, so junk tokens cannot hammer the database. */
const UNKNOWN_KID_RELOAD_MS = 10_000;
/** Margin on top of the longest token lifetime before a retired key leaves the JWKS. */
const PUBLISH_MARGIN_SECONDS = 300;

interface LoadedKey {
  kid: string;
  alg: JwsAlgorithm;
  publicKey: KeyObject;
  publicJwk: JsonWebKey;
  privateKey?: KeyObject;
  retired: boolean;
}

export interface Jwks {
  keys: JsonWebKey[];
}

/**
 * Warden's own signing keys. Every key is turned into KeyObjects once, when loaded; the private
 * halves are stored sealed with WARDEN_ENCRYPTION_KEY and only the active one is kept opened.
 */
@Injectable()
export class KeyRingService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(KeyRingService.name);
  private readonly box: SecretBox;
  private keys = new Map<string, LoadedKey>();
  private active?: JwsKey;
  private jwks: Jwks = { keys: [] };
  private lastUnknownKidReload = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly repository: SigningKeysRepository,
    private readonly settings: SettingsService,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    this.box = new SecretBox(config.encryptionKey.key);
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    if (!this.active) {
      await this.rotate();
    }
    this.timer = setInterval(
      () => void this.reload().catch((err) => this.logger.warn({ err }, 'Key reload failed')),
      RELOAD_INTERVAL_MS,
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  signingKey(): JwsKey {
    if (!this.active) throw new Error('No active signing key');
    return this.active;
  }

  /** The public key for `kid`, or undefined. An unknown kid may reload once in a while (rotation elsewhere). */
  async verificationKey(kid: string | undefined): Promise<JwsKey | undefined> {
    if (!kid) return undefined;
    const known = this.keys.get(kid);
    if (known) return { alg: known.alg, key: known.publicKey, kid };
    const now = Date.now();
    if (now - this.lastUnknownKidReload < UNKNOWN_KID_RELOAD_MS) return undefined;
    this.lastUnknownKidReload = now;
    await this.reload();
    const loaded = this.keys.get(kid);
    return loaded ? { alg: loaded.alg, key: loaded.publicKey, kid } : undefined;
  }

  /** Synchronous form for callers that already hold the key set (the hot path never reloads). */
  knownKey(kid: string): JwsKey | undefined {
    const k = this.keys.get(kid);
    return k ? { alg: k.alg, key: k.publicKey, kid } : undefined;
  }

  publishedKeys(): Jwks {
    return this.jwks;
  }

  /**
   * Creates a new active key; older keys stay published until every token they signed has
   * expired (the longest token lifetime plus a margin).
   */
  async rotate(algorithm: SigningAlgorithm = this.config.signingAlgorithm): Promise<string> {
    const { privateKey, publicKey } = generateKeyPair(algorithm);
    const publicJwk = publicKey.export({ format: 'jwk' });
    const kid = thumbprint(publicJwk);
    const now = new Date();
    const entity = Object.assign(new SigningKeyEntity(), {
      kid,
      algorithm,
      publicJwk: JSON.stringify(publicJwk),
      privateKeySealed: this.box.seal(
        privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        `signing-key:${kid}`,
      ),
      createdAt: now,
      retiredAt: null,
      publishUntil: null,
    });
    await this.repository.insert(entity);
    const { accessTtlSeconds, refreshTtlSeconds } = this.settings.get().tokens;
    const lifetime = Math.max(accessTtlSeconds, refreshTtlSeconds) + PUBLISH_MARGIN_SECONDS;
    await this.repository.retireOlderThan(
      { kid, createdAt: now },
      new Date(now.getTime() + lifetime * 1000),
    );
    // Keys whose tokens can no longer be valid leave storage with the next rotation.
    await this.repository.removeUnpublishedBefore(now);
    await this.reload();
    this.logger.log({ kid, algorithm }, 'Signing key rotated');
    return kid;
  }

  async reload(): Promise<void> {
    const rows = await this.repository.findPublished(new Date());
    const next = new Map<string, LoadedKey>();
    let active: JwsKey | undefined;
    for (const row of rows) {
      const loaded = this.keys.get(row.kid) ?? this.load(row);
      if (!loaded) continue;
      loaded.retired = row.retiredAt !== null;
      next.set(row.kid, loaded);
      // Rows come newest first: the newest key that is not retired signs.
      if (!active && !loaded.retired) {
        loaded.privateKey ??= this.openPrivateKey(row);
        active = { alg: loaded.alg, key: loaded.privateKey, kid: loaded.kid };
      }
    }
    this.keys = next;
    this.active = active;
    this.jwks = {
      keys: [...next.values()].map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' })),
    };
  }

  private load(row: SigningKeyEntity): LoadedKey | undefined {
    if (!SIGNING_ALGORITHMS.includes(row.algorithm as SigningAlgorithm)) {
      // EdDSA keys of earlier versions: jsonwebtoken, which signs and verifies Warden's tokens,
      // has no EdDSA. The key is left out (a new key is made at start when it was the active
      // one) and the tokens it signed are refused: their holders sign in again.
      this.logger.warn(
        { kid: row.kid, algorithm: row.algorithm },
        'Signing key of an algorithm no longer used: left out, its tokens are no longer accepted',
      );
      return undefined;
    }
    try {
      const publicJwk = JSON.parse(row.publicJwk) as JsonWebKey;
      const publicKey = createPublicKey({ key: publicJwk, format: 'jwk' });
      const alg = row.algorithm as JwsAlgorithm;
      assertKeyFits({ alg, key: publicKey }, 'verify');
      return { kid: row.kid, alg, publicKey, publicJwk, retired: row.retiredAt !== null };
    } catch (err) {
      this.logger.error({ err, kid: row.kid }, 'Signing key could not be loaded; skipped');
      return undefined;
    }
  }

  private openPrivateKey(row: SigningKeyEntity): KeyObject {
    const pem = this.box.openText(row.privateKeySealed, `signing-key:${row.kid}`);
    const key = createPrivateKey({ key: pem, format: 'pem' });
    assertKeyFits({ alg: row.algorithm as JwsAlgorithm, key }, 'sign');
    return key;
  }
}

function generateKeyPair(algorithm: SigningAlgorithm): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  switch (algorithm) {
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  }
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): a kid that names the key itself. */
export function thumbprint(jwk: JsonWebKey): string {
  const members: Record<string, string[]> = {
    RSA: ['e', 'kty', 'n'],
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
  };
  const names = members[jwk.kty as string];
  if (!names) throw new Error(`No thumbprint for key type ${jwk.kty}`);
  const canonical = JSON.stringify(
    Object.fromEntries(names.map((n) => [n, (jwk as Record<string, unknown>)[n]])),
  );
  return createHash('sha256').update(canonical).digest('base64url');
}
