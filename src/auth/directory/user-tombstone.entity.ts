import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A deleted user, kept a day so that every instance's directory poll sees the deletion. */
@Entity('user_tombstones')
export class UserTombstoneEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 36 })
  userId!: string;

  @Column({ name: 'deleted_at', type: Date })
  deletedAt!: Date;
}
