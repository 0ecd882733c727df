import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('signing_keys')
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  kid!: string;

  @Column({ type: 'varchar', length: 16 })
  algorithm!: string;

  /** Public half as a JWK (JSON text), published at /.well-known/jwks.json. */
  @Column({ name: 'public_jwk', type: 'text' })
  publicJwk!: string;

  /** PKCS#8 PEM of the private half, sealed with AES-256-GCM under WARDEN_ENCRYPTION_KEY. */
  @Column({ name: 'private_key_sealed', type: 'text' })
  privateKeySealed!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  /**
   * When the key starts signing. Until then it is only published (state `next`), so that
   * verifiers holding a cached JWKS know it before they meet a token it signed.
   */
  @Column({ name: 'activates_at', type: Date })
  activatesAt!: Date;

  /**
   * When it stops signing: the activation of the key that follows it (set at that key's
   * rotation, so it may lie ahead). Still published until `publishUntil`.
   */
  @Column({ name: 'retired_at', type: Date, nullable: true })
  retiredAt!: Date | null;

  @Column({ name: 'publish_until', type: Date, nullable: true })
  publishUntil!: Date | null;
}
