import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createSecretKey, KeyObject, timingSafeEqual } from 'node:crypto';
import { SecretBox } from '../../common/crypto/secret-box';
import { InvalidationBus } from '../../common/invalidation/invalidation-bus';
import { RefreshedView } from '../../common/invalidation/refreshed-view';
import { WARDEN_CONFIG, WardenConfig } from '../../config/warden-config';
import { TenantEntity } from './tenant.entity';
import { TenantsRepository } from './tenants.repository';

/** How often each instance looks for tenants changed elsewhere (a lost bus message waits this long). */
const POLL_MS = 10_000;
const POLL_OVERLAP_MS = 5_000;

/** A tenant as requests see it: the shared secret already a KeyObject, never read per request. */
export interface LiveTenant {
  clientKey: string;
  baseUrl: string;
  displayUrl: string | null;
  productType: string;
  oauthClientId: string | null;
  /** Installed and enabled: its tokens are accepted. */
  active: boolean;
  /** The shared secret for HS256 (incoming tokens, outgoing requests, the JWT bearer grant). */
  secret: KeyObject;
}

/** The context a sealed secret is bound to: a sealed value cannot be moved to another tenant. */
export function secretContext(clientKey: string): string {
  return `connect-tenant:${clientKey}`;
}

/**
 * Every tenant in memory, loaded at start: an incoming Connect token costs a Map look-up, never
 * a database read, and a token naming an unknown tenant is refused without one. Install,
 * uninstall and an administrator's switch invalidate the tenant on every instance (bus), and
 * each instance also polls for changed rows, so a lost message only delays a change.
 */
@Injectable()
export class TenantDirectory implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TenantDirectory.name);
  private readonly tenants = new Map<string, LiveTenant>();
  /** `updatedAt` of the row each tenant was last taken from. */
  private readonly updatedAt = new Map<string, number>();
  private readonly box: SecretBox;
  private lastSeen = new Date(0);
  private readonly view: RefreshedView;

  constructor(
    private readonly repository: TenantsRepository,
    private readonly bus: InvalidationBus,
    @Inject(WARDEN_CONFIG) config: WardenConfig,
  ) {
    this.box = new SecretBox(config.encryptionKey.key);
    this.view = new RefreshedView({
      bus,
      channel: 'connect-tenant-changed',
      pollMs: POLL_MS,
      refresh: () => this.poll(),
      // The message names the tenant: only its row is read again.
      onMessage: (clientKey) => void this.reload(clientKey),
      onError: (err) =>
        this.logger.warn(`Could not poll Connect tenants: ${(err as Error).message}`),
    });
  }

  async onModuleInit(): Promise<void> {
    for (const row of await this.repository.all()) this.put(row);
    this.view.start();
  }

  onApplicationShutdown(): void {
    this.view.stop();
  }

  get(clientKey: string): LiveTenant | undefined {
    return this.tenants.get(clientKey);
  }

  seal(clientKey: string, sharedSecret: string): string {
    return this.box.seal(sharedSecret, secretContext(clientKey));
  }

  /** Whether `candidate` is the tenant's stored secret (compared in constant time). */
  secretMatches(row: TenantEntity, candidate: string): boolean {
    let stored: Buffer;
    try {
      stored = this.box.open(row.sharedSecret, secretContext(row.clientKey));
    } catch {
      return false;
    }
    const given = Buffer.from(candidate, 'utf8');
    return stored.length === given.length && timingSafeEqual(stored, given);
  }

  /** Takes a stored change into this instance at once and tells the others. */
  changed(row: TenantEntity): void {
    this.put(row);
    this.bus.publish('connect-tenant-changed', row.clientKey);
  }

  private async reload(clientKey: string): Promise<void> {
    try {
      const row = await this.repository.find(clientKey);
      if (row) this.put(row);
      else this.tenants.delete(clientKey);
    } catch (err) {
      this.logger.warn(`Could not reload Connect tenant ${clientKey}: ${(err as Error).message}`);
    }
  }

  private async poll(): Promise<void> {
    // A few seconds of overlap: instances' clocks and commit order need not agree exactly.
    const since = new Date(this.lastSeen.getTime() - POLL_OVERLAP_MS);
    for (const row of await this.repository.changedSince(since)) this.put(row);
  }

  private put(row: TenantEntity): void {
    if (row.updatedAt > this.lastSeen) this.lastSeen = row.updatedAt;
    // A poll that read the row before a change may answer after it: never go back in time.
    const held = this.updatedAt.get(row.clientKey);
    if (held !== undefined && row.updatedAt.getTime() < held) return;
    this.updatedAt.set(row.clientKey, row.updatedAt.getTime());
    let secret: KeyObject;
    try {
      secret = createSecretKey(
        Buffer.from(this.box.openText(row.sharedSecret, secretContext(row.clientKey)), 'utf8'),
      );
    } catch {
      // Sealed under another key: the tenant cannot be served until it installs again.
      this.logger.error(`The shared secret of Connect tenant ${row.clientKey} cannot be opened`);
      this.tenants.delete(row.clientKey);
      return;
    }
    this.tenants.set(row.clientKey, {
      clientKey: row.clientKey,
      baseUrl: row.baseUrl,
      displayUrl: row.displayUrl,
      productType: row.productType,
      oauthClientId: row.oauthClientId,
      active: row.installed && row.enabled,
      secret,
    });
  }
}
