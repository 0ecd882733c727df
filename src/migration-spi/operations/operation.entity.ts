import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type OperationKind = 'export' | 'import';
/** `partial`: an import that applied some items and failed others (each item's outcome is in the summary). */
export type OperationStatus = 'running' | 'succeeded' | 'partial' | 'failed';

/**
 * One CMJ operation (an export on a source instance, an import on a target). The operation
 * token CMJ handed over with its first call is kept sealed, bound to this operation's id, and
 * wiped when the operation ends or the token expires.
 */
@Entity('spi_operations')
@Index('idx_spi_operations_token_expires_at', ['tokenExpiresAt'])
export class OperationEntity {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: OperationKind;

  @Column({ type: 'varchar', length: 16 })
  status!: OperationStatus;

  @Column({ name: 'dry_run', type: 'boolean' })
  dryRun!: boolean;

  /** SecretBox output; null once the operation ended or the token expired. */
  @Column({ name: 'operation_token', type: 'text', nullable: true })
  operationToken!: string | null;

  @Column({ name: 'token_expires_at', type: Date, nullable: true })
  tokenExpiresAt!: Date | null;

  /** What the operation did (counts, problems), as JSON; never a token or a secret. */
  @Column({ type: 'text', nullable: true })
  summary!: string | null;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: Date })
  updatedAt!: Date;

  @Column({ name: 'finished_at', type: Date, nullable: true })
  finishedAt!: Date | null;
}
