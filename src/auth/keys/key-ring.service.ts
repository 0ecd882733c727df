import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  JsonWebKey,
  KeyObject,
} from 'node:crypto';
import { AuditSink } from '../../audit/audit.port';
import { Clock } from '../../common/clock';
import { SecretBox } from '../../common/crypto/secret-box';
import { InvalidationBus } from '../../common/invalidation/invalidation-bus';
import { RefreshedView } from '../../common/invalidation/refreshed-view';
import { assertKeyFits, JwsAlgorithm, JwsKey } from '../../common/jwt/jws';
import {
  SIGNING_ALGORITHMS,
  SigningAlgorithm,
  WARDEN_CONFIG,
  WardenConfig,
} from '../../config/warden-config';
import { JOB_LOCKS, JobLock } from '../../common/database/job-lock';
import { SettingsService } from '../../settings/settings.service';
import { KeyPhase, keyPhases, KeyState } from './key-phases';
import { KEY_RELOAD_SECONDS } from '../../settings/key-timing';
import { SigningKeyEntity } from './signing-key.entity';
import { SigningKeysRepository } from './signing-keys.repository';

/** An unknown `kid` triggers at most one reload per this interval, so junk tokens cannot hammer the database. */
const UNKNOWN_KID_RELOAD_MS = 10_000;
/** Margin on top of the longest token lifetime before a retired key leaves the JWKS. */
const PUBLISH_MARGIN_SECONDS = 300;
/** A later key activates at least this long after the one before it, so signing order is strict. */
const ACTIVATION_GAP_MS = 1000;
/** setTimeout's longest delay; a state change further ahead is re-armed on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DAY_MS = 86_400_000;

interface LoadedKey {
  kid: string;
  alg: JwsAlgorithm;
  publicKey: KeyObject;
  publicJwk: JsonWebKey;
  privateKey?: KeyObject;
  sealed: string;
  createdAt: number;
  activatesAt: number;
  retiredAt: number | null;
  publishUntil: number | null;
}

export interface Jwks {
  keys: JsonWebKey[];
}

export interface KeyView {
  kid: string;
  algorithm: string;
  state: KeyState;
  createdAt: string;
  activatesAt: string;
  retiresAt: string | null;
  publishedUntil: string | null;
}

export interface RotationActor {
  username: string;
  requestId?: string;
  ip?: string;
}

const SYSTEM: RotationActor = { username: 'system' };

/**
 * Warden's own signing keys. Every key is turned into KeyObjects once, when loaded; the private
 * halves are stored sealed with WARDEN_ENCRYPTION_KEY and only those of the active and the next
 * key are opened.
 *
 * A rotation publishes the new key as `next` for `keys.prePublishSeconds` before it signs. Each
 * instance knows the activation instant from the rows it loaded and switches by itself at that
 * instant (a timer, and a check of the clock before each signature); the invalidation bus only
 * has to bring the new row within the pre-publication window.
 */
@Injectable()
export class KeyRingService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(KeyRingService.name);
  private readonly box: SecretBox;
  private keys = new Map<string, LoadedKey>();
  private phases = new Map<string, KeyPhase>();
  private active?: JwsKey;
  private jwks: Jwks = { keys: [] };
  /** The next instant at which a key changes state (activation, leaving the JWKS). */
  private changesAt = Infinity;
  private lastUnknownKidReload = 0;
  private readonly refreshed: RefreshedView;
  private switchTimer?: NodeJS.Timeout;

  constructor(
    private readonly repository: SigningKeysRepository,
    private readonly settings: SettingsService,
    private readonly clock: Clock,
    private readonly bus: InvalidationBus,
    private readonly audit: AuditSink,
    private readonly lock: JobLock,
    @Inject(WARDEN_CONFIG) private readonly config: WardenConfig,
  ) {
    this.box = new SecretBox(config.encryptionKey.key);
    this.refreshed = new RefreshedView({
      bus,
      channel: 'signing-keys',
      pollMs: KEY_RELOAD_SECONDS * 1000,
      refresh: () => this.reload(),
      onError: (err) => this.logger.warn({ err }, 'Key reload failed'),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    if (!this.active) await this.rotate(undefined, SYSTEM, 'start');
    this.refreshed.start();
  }

  onModuleDestroy(): void {
    this.refreshed.stop();
    clearTimeout(this.switchTimer);
  }

  signingKey(): JwsKey {
    const now = this.clock.now();
    // The timer may fire late on a busy event loop; the clock decides.
    if (now >= this.changesAt) this.refresh(now);
    if (!this.active) throw new Error('No active signing key');
    return this.active;
  }

  /** The public key for `kid`, or undefined. An unknown kid may reload once in a while (rotation elsewhere). */
  async verificationKey(kid: string | undefined): Promise<JwsKey | undefined> {
    if (!kid) return undefined;
    const known = this.knownKey(kid);
    if (known) return known;
    const now = this.clock.now();
    if (now - this.lastUnknownKidReload < UNKNOWN_KID_RELOAD_MS) return undefined;
    this.lastUnknownKidReload = now;
    await this.reload();
    return this.knownKey(kid);
  }

  /** Synchronous form for callers that already hold the key set (the hot path never reloads). */
  knownKey(kid: string): JwsKey | undefined {
    const k = this.keys.get(kid);
    return k ? { alg: k.alg, key: k.publicKey, kid } : undefined;
  }

  publishedKeys(): Jwks {
    const now = this.clock.now();
    if (now >= this.changesAt) this.refresh(now);
    return this.jwks;
  }

  /** Every published key with its state and dates, as stored now. */
  async list(): Promise<KeyView[]> {
    await this.reload();
    return [...this.keys.values()].map((key) => this.view(key));
  }

  /**
   * Creates a key that signs after `keys.prePublishSeconds` (at once when no key signs now:
   * there is nothing to wait for) and after every pending one. The key before it retires at
   * that instant and stays published until every token it signed has expired (the longest
   * token lifetime plus a margin).
   */
  async rotate(
    algorithm: SigningAlgorithm = this.config.signingAlgorithm,
    actor: RotationActor = SYSTEM,
    trigger: 'request' | 'schedule' | 'start' = 'request',
  ): Promise<KeyView> {
    await this.reload();
    const now = this.clock.now();
    const latest = await this.repository.findLatest();
    const prePublishMs = this.settings.get().keys.prePublishSeconds * 1000;
    const activatesAt = this.active
      ? Math.max(now + prePublishMs, (latest?.activatesAt.getTime() ?? 0) + ACTIVATION_GAP_MS)
      : now;
    const { privateKey, publicKey } = generateKeyPair(algorithm);
    const publicJwk = publicKey.export({ format: 'jwk' });
    const kid = thumbprint(publicJwk);
    const entity = Object.assign(new SigningKeyEntity(), {
      kid,
      algorithm,
      publicJwk: JSON.stringify(publicJwk),
      privateKeySealed: this.box.seal(
        privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        `signing-key:${kid}`,
      ),
      createdAt: new Date(now),
      activatesAt: new Date(activatesAt),
      retiredAt: null,
      publishUntil: null,
    });
    await this.repository.insert(entity);
    const { accessTtlSeconds, refreshTtlSeconds } = this.settings.get().tokens;
    const lifetimeMs =
      (Math.max(accessTtlSeconds, refreshTtlSeconds) + PUBLISH_MARGIN_SECONDS) * 1000;
    await this.repository.retireBefore(
      { kid, activatesAt: entity.activatesAt },
      new Date(activatesAt + lifetimeMs),
    );
    // Keys whose tokens can no longer be valid leave storage with the next rotation.
    await this.repository.removeUnpublishedBefore(new Date(now));
    await this.reload();
    this.bus.publish('signing-keys', kid);
    const view = this.view(this.keys.get(kid) ?? this.load(entity)!);
    this.audit.record({
      event: 'keys.rotated',
      outcome: 'success',
      actor: actor.username,
      requestId: actor.requestId,
      ip: actor.ip,
      reason: trigger,
      details: { kid, algorithm, activatesAt: view.activatesAt },
    });
    this.logger.log({ kid, algorithm, activatesAt: view.activatesAt }, 'Signing key rotated');
    return view;
  }

  /**
   * The scheduled rotation (`keys.rotateEveryDays`, 0: never): due when the latest key began, or
   * begins, signing that many days ago. On one instance at a time, and the check is made under
   * the lock against the database, so instances firing one after another rotate once.
   */
  async rotateOnSchedule(): Promise<KeyView | null> {
    const days = this.settings.get().keys.rotateEveryDays;
    if (days === 0) return null;
    let rotated: KeyView | null = null;
    try {
      await this.lock.runAlone(JOB_LOCKS.keyRotation, async () => {
        const latest = await this.repository.findLatest();
        if (latest && this.clock.now() < latest.activatesAt.getTime() + days * DAY_MS) return;
        rotated = await this.rotate(undefined, SYSTEM, 'schedule');
      });
    } catch (err) {
      this.logger.error({ err }, 'Scheduled signing-key rotation failed; retried on the next run');
    }
    return rotated;
  }

  async reload(): Promise<void> {
    const now = this.clock.now();
    const rows = await this.repository.findPublished(new Date(now));
    const next = new Map<string, LoadedKey>();
    for (const row of rows) {
      const loaded = this.keys.get(row.kid) ?? this.load(row);
      if (!loaded) continue;
      loaded.activatesAt = row.activatesAt.getTime();
      loaded.retiredAt = row.retiredAt?.getTime() ?? null;
      loaded.publishUntil = row.publishUntil?.getTime() ?? null;
      next.set(row.kid, loaded);
    }
    // Opened now, not at the switch: the switch then costs nothing and cannot fail.
    for (const [kid, phase] of keyPhases([...next.values()], now).phases) {
      const key = next.get(kid)!;
      if (phase.state !== 'retiring') key.privateKey ??= this.openPrivateKey(key);
    }
    this.keys = next;
    this.refresh(now);
  }

  /** Recomputes the states at `now` from the loaded instants, and arms the timer for the next change. */
  private refresh(now: number): void {
    const { phases, signer, changesAt } = keyPhases([...this.keys.values()], now);
    for (const kid of this.keys.keys()) if (!phases.has(kid)) this.keys.delete(kid);
    const signing = signer ? this.keys.get(signer) : undefined;
    if (signing) signing.privateKey ??= this.openPrivateKey(signing);
    this.active = signing
      ? { alg: signing.alg, key: signing.privateKey!, kid: signing.kid }
      : undefined;
    this.phases = phases;
    this.changesAt = changesAt;
    this.jwks = {
      keys: [...this.keys.values()].map((k) => ({
        ...k.publicJwk,
        kid: k.kid,
        alg: k.alg,
        use: 'sig',
      })),
    };
    clearTimeout(this.switchTimer);
    if (changesAt !== Infinity) {
      this.switchTimer = setTimeout(
        () => this.refresh(this.clock.now()),
        Math.min(Math.max(0, changesAt - now), MAX_TIMER_MS),
      );
      this.switchTimer.unref();
    }
  }

  private view(key: LoadedKey): KeyView {
    const phase = this.phases.get(key.kid);
    const iso = (t: number | null | undefined) => (t == null ? null : new Date(t).toISOString());
    return {
      kid: key.kid,
      algorithm: key.alg,
      state: phase?.state ?? 'retiring',
      createdAt: new Date(key.createdAt).toISOString(),
      activatesAt: new Date(key.activatesAt).toISOString(),
      retiresAt: iso(phase?.retiresAt ?? key.retiredAt),
      publishedUntil: iso(key.publishUntil),
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
      return {
        kid: row.kid,
        alg,
        publicKey,
        publicJwk,
        sealed: row.privateKeySealed,
        createdAt: row.createdAt.getTime(),
        activatesAt: row.activatesAt.getTime(),
        retiredAt: row.retiredAt?.getTime() ?? null,
        publishUntil: row.publishUntil?.getTime() ?? null,
      };
    } catch (err) {
      this.logger.error({ err, kid: row.kid }, 'Signing key could not be loaded; skipped');
      return undefined;
    }
  }

  private openPrivateKey(loaded: LoadedKey): KeyObject {
    const pem = this.box.openText(loaded.sealed, `signing-key:${loaded.kid}`);
    const key = createPrivateKey({ key: pem, format: 'pem' });
    assertKeyFits({ alg: loaded.alg, key }, 'sign');
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
