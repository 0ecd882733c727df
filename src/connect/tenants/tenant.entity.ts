import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A host product (Jira, Confluence site) that installed Warden as a Connect app. The record is
 * kept after an uninstall; the shared secret is sealed (AES-256-GCM, bound to the client key).
 */
@Entity('connect_tenants')
@Index('idx_connect_tenants_updated_at', ['updatedAt'])
export class TenantEntity {
  @PrimaryColumn({ name: 'client_key', type: 'varchar', length: 255 })
  clientKey!: string;

  /** SecretBox output; the secret itself is never stored or returned in clear. */
  @Column({ name: 'shared_secret', type: 'text' })
  sharedSecret!: string;

  @Column({ name: 'base_url', type: 'varchar', length: 2048 })
  baseUrl!: string;

  @Column({ name: 'display_url', type: 'varchar', length: 2048, nullable: true })
  displayUrl!: string | null;

  @Column({ name: 'product_type', type: 'varchar', length: 64 })
  productType!: string;

  @Column({ name: 'oauth_client_id', type: 'varchar', length: 255, nullable: true })
  oauthClientId!: string | null;

  @Column({ type: 'varchar', length: 1024, nullable: true })
  description!: string | null;

  /** Lifecycle state: false from an uninstall until the next signed install. */
  @Column({ type: 'boolean' })
  installed!: boolean;

  /** An administrator's switch; a reinstall does not turn it back on. */
  @Column({ type: 'boolean' })
  enabled!: boolean;

  @Column({ name: 'installed_at', type: Date })
  installedAt!: Date;

  @Column({ name: 'uninstalled_at', type: Date, nullable: true })
  uninstalledAt!: Date | null;

  @Column({ name: 'updated_at', type: Date })
  updatedAt!: Date;

  /**
   * The lifecycle tokens accepted for this tenant: the `iat` of the newest, and the SHA-256 of
   * every token accepted with that `iat` (space-separated). A token is accepted once, and never
   * one issued before the newest, so a captured callback cannot be replayed with another body,
   * by this instance or any other.
   */
  @Column({ name: 'lifecycle_iat', type: 'bigint' })
  lifecycleIat!: string;

  @Column({ name: 'lifecycle_digests', type: 'text' })
  lifecycleDigests!: string;
}
