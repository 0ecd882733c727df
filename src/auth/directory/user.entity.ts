import { Column, Entity, JoinTable, ManyToMany, PrimaryColumn } from 'typeorm';
import { GroupEntity } from './group.entity';

@Entity('users')
export class UserEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** As the user typed it at creation; shown back unchanged. */
  @Column({ type: 'varchar', length: 255 })
  username!: string;

  /** Lower-cased username: the unique key, so "Alice" and "alice" cannot both exist. */
  @Column({ name: 'username_key', type: 'varchar', length: 255, unique: true })
  usernameKey!: string;

  @Column({ name: 'display_name', type: 'varchar', length: 255, nullable: true })
  displayName!: string | null;

  @Column({ type: 'varchar', length: 320, nullable: true })
  email!: string | null;

  @Column({ name: 'password_hash', type: 'varchar', length: 255, nullable: true })
  passwordHash!: string | null;

  @Column({ type: 'boolean', default: false })
  disabled!: boolean;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: Date })
  updatedAt!: Date;

  @ManyToMany(() => GroupEntity, { eager: false })
  @JoinTable({
    name: 'user_groups',
    joinColumn: { name: 'user_id', referencedColumnName: 'id' },
    inverseJoinColumn: { name: 'group_id', referencedColumnName: 'id' },
  })
  groups!: GroupEntity[];
}
