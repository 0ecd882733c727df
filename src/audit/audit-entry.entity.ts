import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Column widths: values are cut to these before buffering, so a row can never fail on content. */
export const AUDIT_LIMITS = {
  event: 64,
  outcome: 16,
  actor: 255,
  authMethod: 32,
  credentialId: 128,
  ip: 64,
  method: 16,
  path: 2048,
  reason: 128,
  userAgent: 512,
  requestId: 128,
  details: 16_384,
} as const;

/**
 * One decision or security event (docs/operations.md#the-audit-log). Rows are only ever inserted in
 * batches and deleted by the retention job; the entity describes them for queries.
 */
@Entity('audit_log')
export class AuditEntryEntity {
  /** Insertion order; with `at` the keyset of every listing. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  /** PostgreSQL: `timestamptz`; SQLite: milliseconds since the epoch (see the migration). */
  @Column({ type: Date, transformer: { from: instantFromStore, to: (value: unknown) => value } })
  at!: Date;

  @Column({ type: 'varchar', length: AUDIT_LIMITS.event })
  event!: string;

  @Column({ type: 'varchar', length: AUDIT_LIMITS.outcome })
  outcome!: string;

  @Column({ type: 'varchar', length: AUDIT_LIMITS.actor, nullable: true })
  actor!: string | null;

  @Column({ name: 'auth_method', type: 'varchar', length: AUDIT_LIMITS.authMethod, nullable: true })
  authMethod!: string | null;

  @Column({
    name: 'credential_id',
    type: 'varchar',
    length: AUDIT_LIMITS.credentialId,
    nullable: true,
  })
  credentialId!: string | null;

  @Column({ type: 'varchar', length: AUDIT_LIMITS.ip, nullable: true })
  ip!: string | null;

  @Column({ type: 'varchar', length: AUDIT_LIMITS.method, nullable: true })
  method!: string | null;

  @Column({ type: 'varchar', length: AUDIT_LIMITS.path, nullable: true })
  path!: string | null;

  @Column({ type: 'integer', nullable: true })
  status!: number | null;

  @Column({ type: 'varchar', length: AUDIT_LIMITS.reason, nullable: true })
  reason!: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: AUDIT_LIMITS.userAgent, nullable: true })
  userAgent!: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: AUDIT_LIMITS.requestId, nullable: true })
  requestId!: string | null;

  /** JSON object; never a secret (settings diffs are masked before they get here). */
  @Column({ type: 'text', nullable: true })
  details!: string | null;
}

/** What the drivers hand back: a Date from PostgreSQL, milliseconds from SQLite. */
function instantFromStore(value: unknown): unknown {
  return typeof value === 'number' ? new Date(value) : value;
}
