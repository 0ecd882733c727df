import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type TokenScope = 'read' | 'write' | 'admin';
export const TOKEN_SCOPES: TokenScope[] = ['read', 'write', 'admin'];

@Entity('api_tokens')
@Index('idx_api_tokens_user', ['userId'])
export class ApiTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  /** SHA-256 (hex) of the token; the token itself is shown once and never stored. */
  @Column({ name: 'token_hash', type: 'varchar', length: 64, unique: true })
  tokenHash!: string;

  @Column({ name: 'display_prefix', type: 'varchar', length: 16 })
  displayPrefix!: string;

  /** Comma-separated scopes. */
  @Column({ type: 'varchar', length: 64 })
  scopes!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: Date })
  expiresAt!: Date;

  @Column({ name: 'last_used_at', type: Date, nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'last_used_ip', type: 'varchar', length: 64, nullable: true })
  lastUsedIp!: string | null;

  @Column({ name: 'revoked_at', type: Date, nullable: true })
  revokedAt!: Date | null;
}

export function scopesOf(token: ApiTokenEntity): TokenScope[] {
  return token.scopes.split(',').filter(Boolean) as TokenScope[];
}
