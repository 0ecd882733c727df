import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The one settings document (row id `global`), versioned for If-Match / ETag. */
@Entity('settings')
export class SettingsEntity {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  id!: string;

  @Column({ type: 'integer' })
  version!: number;

  /** The full document as JSON; secrets in it are sealed (see SettingsService). */
  @Column({ type: 'text' })
  document!: string;

  @Column({ name: 'updated_at', type: Date })
  updatedAt!: Date;

  @Column({ name: 'updated_by', type: 'varchar', length: 255, nullable: true })
  updatedBy!: string | null;
}
