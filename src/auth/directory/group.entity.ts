import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('groups')
export class GroupEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  name!: string;

  /** Lower-cased name, unique: group names compare case-insensitively like usernames. */
  @Column({ name: 'name_key', type: 'varchar', length: 255, unique: true })
  nameKey!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;
}
