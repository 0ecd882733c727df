import { randomBytes } from 'node:crypto';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from './config';
import { basic, http } from './http';
import { TestApp } from './app';

export interface TestUser {
  username: string;
  password: string;
  id: string;
}

export const adminAuth = () => basic(ADMIN_USERNAME, ADMIN_PASSWORD);

/** Anything Warden answers at: an in-process app or a separate process. */
export type WardenAt = Pick<TestApp, 'url'>;

/** Creates a user through the admin API, as an operator would. */
export async function newUser(
  t: WardenAt,
  overrides: { username?: string; password?: string; groups?: string[] } = {},
): Promise<TestUser> {
  const username = overrides.username ?? `user-${randomBytes(4).toString('hex')}`;
  const password = overrides.password ?? `pw-${randomBytes(12).toString('hex')}`;
  const res = await http(`${t.url}/admin/users`, {
    method: 'POST',
    headers: { authorization: adminAuth() },
    json: { username, password, groups: overrides.groups },
  });
  if (res.status !== 201) throw new Error(`newUser failed: ${res.status} ${res.text}`);
  return { username, password, id: res.body.id };
}

export async function newGroup(
  t: WardenAt,
  name = `group-${randomBytes(4).toString('hex')}`,
): Promise<string> {
  const res = await http(`${t.url}/admin/groups`, {
    method: 'POST',
    headers: { authorization: adminAuth() },
    json: { name },
  });
  if (res.status !== 201) throw new Error(`newGroup failed: ${res.status} ${res.text}`);
  return name;
}

export interface Pair {
  authentication: string;
  refresh: string;
}

export async function login(
  t: WardenAt,
  user: { username: string; password: string },
): Promise<Pair> {
  const res = await http<Pair>(`${t.url}/system/auth`, {
    headers: { authorization: basic(user.username, user.password) },
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.body;
}
