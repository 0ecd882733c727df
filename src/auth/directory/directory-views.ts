import { GroupView, UserView } from './dto/directory.dto';
import { GroupEntity } from './group.entity';
import { UserEntity } from './user.entity';

/** A user as the API shows it: groups by name, times as ISO strings, never the password. */
export function toUserView(user: UserEntity): UserView {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
    groups: (user.groups ?? []).map((g) => g.name).sort(),
    disabled: user.disabled,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

/** A group as the API shows it. */
export function toGroupView(group: GroupEntity): GroupView {
  return { id: group.id, name: group.name, createdAt: group.createdAt.toISOString() };
}
