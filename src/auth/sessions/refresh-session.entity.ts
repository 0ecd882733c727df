import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One refresh token family. Only the current generation's `jti` hash and the one before it are
 * kept: the current one may rotate, the previous one may be retried within the grace window,
 * anything else with this `sid` is an older generation and therefore a reuse.
 */
@Entity('refresh_sessions')
@Index('idx_refresh_sessions_user', ['userId'])
@Index('idx_refresh_sessions_revoked_at', ['revokedAt'])
export class RefreshSessionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId!: string;

  @Column({ name: 'auth_method', type: 'varchar', length: 32 })
  authMethod!: string;

  @Column({ type: 'integer' })
  generation!: number;

  @Column({ name: 'current_jti_hash', type: 'varchar', length: 64 })
  currentJtiHash!: string;

  @Column({ name: 'previous_jti_hash', type: 'varchar', length: 64, nullable: true })
  previousJtiHash!: string | null;

  @Column({ name: 'rotated_at', type: Date, nullable: true })
  rotatedAt!: Date | null;

  /** The pair handed out by the last rotation, sealed, so a retry within the grace window gets it again. */
  @Column({ name: 'successor_sealed', type: 'text', nullable: true })
  successorSealed!: string | null;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: Date })
  lastUsedAt!: Date;

  @Column({ name: 'expires_at', type: Date })
  expiresAt!: Date;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip!: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent!: string | null;

  @Column({ name: 'revoked_at', type: Date, nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 64, nullable: true })
  revokedReason!: string | null;
}
