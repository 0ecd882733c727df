import { DirectoryService } from '../../src/auth/directory/directory.service';
import { ADMIN_USERNAME } from '../support/config';
import { DATABASES, databaseReady, startApp, TestApp, itWhen } from '../support/app';
import { adminAuth, login, newGroup, newUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { auditEvents } from '../support/audit';
import { patchSettings } from '../support/settings';

describe.each(DATABASES)('admin API for users and groups (%s)', (database) => {
  let t: TestApp;
  let ready = false;

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (ready) t = await startApp({ database });
  });
  afterAll(async () => t?.close());

  const maybe = itWhen(database);
  const admin = (path: string, init: RequestInit & { json?: unknown } = {}) =>
    http(`${t.url}${path}`, {
      ...init,
      headers: { authorization: adminAuth(), ...(init.headers ?? {}) },
    });

  maybe(
    'creates a user with groups, shows it without the password, and stores an argon2id hash',
    async () => {
      const group = await newGroup(t);
      const res = await admin('/admin/users', {
        method: 'POST',
        json: {
          username: 'Carol',
          password: 'carol-password-123',
          displayName: 'Carol C',
          email: 'carol@example.com',
          groups: [group],
        },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        username: 'Carol',
        displayName: 'Carol C',
        email: 'carol@example.com',
        groups: [group],
        disabled: false,
      });
      expect(JSON.stringify(res.body)).not.toMatch(/password/i);
      const [row] = await t.dataSource.query(
        `SELECT password_hash FROM users WHERE username_key = 'carol'`,
      );
      expect(row.password_hash).toMatch(/^\$argon2id\$/);

      const got = await admin('/admin/users/carol');
      expect(got.status).toBe(200);
      expect(got.body.username).toBe('Carol');
    },
  );

  maybe('usernames are unique regardless of case', async () => {
    await newUser(t, { username: 'Dave' });
    const dup = await admin('/admin/users', {
      method: 'POST',
      json: { username: 'dAVE', password: 'another-password-1' },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('user_exists');
  });

  maybe('group names are unique regardless of case, and listed', async () => {
    await newGroup(t, 'Reporters');
    expect(
      (await admin('/admin/groups', { method: 'POST', json: { name: 'reporters' } })).status,
    ).toBe(409);
    const list = await admin('/admin/groups');
    expect(list.status).toBe(200);
    expect(list.body.map((g: { name: string }) => g.name)).toEqual(
      expect.arrayContaining(['Reporters', 'warden-admins']),
    );
  });

  maybe(
    'a value the validation lets through but the column cannot hold is a 4xx, never a 500',
    async () => {
      // 200 letters, 400 characters in the lower-case key; 255 letters each followed by a
      // variation selector, which the length check does not count and a column does.
      const user = await admin('/admin/users', {
        method: 'POST',
        json: { username: '\u0130'.repeat(200), password: 'correct horse battery' },
      });
      const token = await admin('/tokens', {
        method: 'POST',
        json: { name: 'a\uFE0F'.repeat(255) },
      });
      for (const res of [user, token]) {
        // SQLite does not hold text to a width; PostgreSQL does.
        expect(res.status).toBe(database === 'postgres' ? 400 : 201);
        expect(res.text).not.toMatch(/\n\s+at /);
      }
    },
  );

  maybe(
    'a group name outside the rule is a 400 naming the field; the API and the directory agree',
    async () => {
      const directory = t.app.get(DirectoryService);
      for (const name of [
        'bad/group\u0000',
        'a/b',
        '',
        'x'.repeat(256),
        'tab\there',
        // 200 characters, 400 once lower-cased (the directory's key).
        '\u0130'.repeat(200),
      ]) {
        const res = await admin('/admin/groups', { method: 'POST', json: { name } });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('validation_failed');
        expect(res.body.errors).toEqual([{ field: 'name', messages: [expect.any(String)] }]);
        // The directory's own check, for callers that do not come through the API (an import).
        const direct = await directory.createGroup({ name }, { username: 'test' }).catch((e) => e);
        expect(direct).toMatchObject({ status: 400, code: 'validation_failed' });
        // A NUL is refused at the request edge, for every field, before the group rule is read:
        // the same field, in other words.
        if (name.includes('\u0000'))
          expect(direct.extras.fields.errors.map((e: { field: string }) => e.field)).toEqual([
            'name',
          ]);
        else expect(direct.extras.fields.errors).toEqual(res.body.errors);
      }
      const names = (await admin('/admin/groups')).body.map((g: { name: string }) => g.name);
      expect(names.filter((n: string) => /[/\t\u0000]|^$|^x{256}$/.test(n))).toEqual([]);
      expect(
        (await admin('/admin/groups', { method: 'POST', json: { name: 'Ops team_1' } })).status,
      ).toBe(201);
    },
  );

  maybe('an unknown group is a 400 naming it', async () => {
    const res = await admin('/admin/users', {
      method: 'POST',
      json: { username: 'erin', password: 'erin-password-123', groups: ['no-such-group'] },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'unknown_group', unknownGroups: ['no-such-group'] });
  });

  maybe('invalid bodies are 400 problems naming every bad field', async () => {
    const res = await admin('/admin/users', {
      method: 'POST',
      json: { username: 'has space', password: 'short', email: 'not-an-email', extra: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'email',
      'extra',
      'password',
      'username',
    ]);
  });

  maybe('PATCH changes groups; the change reaches tokens already in use', async () => {
    const group = await newGroup(t);
    const u = await newUser(t);
    const pair = await login(t, u);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).body.groups,
    ).toEqual([]);
    const patch = await admin(`/admin/users/${u.username}`, {
      method: 'PATCH',
      json: { groups: [group] },
    });
    expect(patch.status).toBe(200);
    expect(patch.body.groups).toEqual([group]);
    const me = await http(`${t.url}/system/whoami`, {
      headers: { authorization: bearer(pair.authentication) },
    });
    expect(me.body.groups).toEqual([group]);
  });

  maybe('disabling a user refuses their password and ends their sessions', async () => {
    const u = await newUser(t);
    const pair = await login(t, u);
    expect(
      (await admin(`/admin/users/${u.username}`, { method: 'PATCH', json: { disabled: true } }))
        .status,
    ).toBe(200);
    expect(
      (
        await http(`${t.url}/system/auth`, {
          headers: { authorization: basic(u.username, u.password) },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(401);
  });

  maybe('deleting a user ends their sessions and frees the name', async () => {
    const u = await newUser(t);
    const pair = await login(t, u);
    expect((await admin(`/admin/users/${u.username}`, { method: 'DELETE' })).status).toBe(204);
    expect((await admin(`/admin/users/${u.username}`)).status).toBe(404);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(401);
    expect(
      (await http(`${t.url}/system/reauth`, { headers: { authorization: bearer(pair.refresh) } }))
        .status,
    ).toBe(401);
    await newUser(t, { username: u.username });
  });

  maybe('an admin cannot lock themselves out', async () => {
    for (const change of [{ disabled: true }, { groups: [] }]) {
      const res = await admin(`/admin/users/${ADMIN_USERNAME}`, { method: 'PATCH', json: change });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('self_lockout');
    }
    expect((await admin(`/admin/users/${ADMIN_USERNAME}`, { method: 'DELETE' })).status).toBe(409);
  });

  maybe('non-admins get 403 admin_required, anonymous callers 401', async () => {
    const u = await newUser(t);
    const pair = await login(t, u);
    const asUser = await http(`${t.url}/admin/users`, {
      headers: { authorization: bearer(pair.authentication) },
    });
    expect(asUser.status).toBe(403);
    expect(asUser.body.code).toBe('admin_required');
    const anonymous = await http(`${t.url}/admin/users`);
    expect(anonymous.status).toBe(401);
  });

  maybe('lists users with paging', async () => {
    const page = await admin('/admin/users?offset=0&limit=2');
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(2);
    expect(page.body.total).toBeGreaterThan(2);
    expect((await admin('/admin/users?limit=100000')).status).toBe(400);
  });

  describe('renaming and deleting groups', () => {
    const settings = async () => {
      const res = await admin('/admin/settings');
      return { etag: res.headers.get('etag')!, groups: res.body.groups };
    };
    const groupsOf = async (username: string): Promise<string[]> =>
      (await admin(`/admin/users/${username}`)).body.groups;

    maybe(
      'a rename reaches the members, every settings list that names the group, and the rules, in one step',
      async () => {
        const name = await newGroup(t);
        const other = await newGroup(t);
        const member = await newUser(t, { groups: [name] });
        await patchSettings(t, {
          groups: { readOnly: [name.toUpperCase()], tokenCreators: [other, name] },
        });
        const access = (await login(t, member)).authentication;
        const me = () =>
          http(`${t.url}/system/whoami`, { headers: { authorization: bearer(access) } });
        expect((await me()).body.groups).toEqual([name]);
        const before = await settings();

        const renamed = `${name}-renamed`;
        const res = await admin(`/admin/groups/${name}`, {
          method: 'PATCH',
          json: { name: renamed },
        });
        expect(res.status).toBe(200);
        expect(res.body.name).toBe(renamed);

        expect(await groupsOf(member.username)).toEqual([renamed]);
        const after = await settings();
        expect(after.groups).toMatchObject({
          readOnly: [renamed],
          tokenCreators: [other, renamed],
        });
        expect(Number(JSON.parse(after.etag))).toBe(Number(JSON.parse(before.etag)) + 1);
        // The member's cached principal follows at once, and the read-only rule still holds.
        expect((await me()).body.groups).toEqual([renamed]);
        const write = await http(`${t.url}/authz/decision`, {
          headers: {
            authorization: bearer(access),
            'x-original-method': 'POST',
            'x-original-uri': '/rest/api/2/issue',
          },
        });
        expect(write.status).toBe(403);
        expect(
          (await admin('/admin/groups')).body.map((g: { name: string }) => g.name),
        ).not.toContain(name);
        const [event] = await auditEvents(t, { event: 'group.renamed' });
        expect(event).toMatchObject({
          actor: ADMIN_USERNAME,
          details: expect.objectContaining({
            from: name,
            to: renamed,
            settings: ['groups.readOnly', 'groups.tokenCreators'],
          }),
        });
        await patchSettings(t, { groups: { readOnly: [], tokenCreators: [] } });
      },
    );

    maybe(
      'a rename is 404 for an unknown group, 409 onto an existing name, 400 for a bad name',
      async () => {
        const name = await newGroup(t);
        const taken = await newGroup(t);
        const rename = (from: string, body: unknown) =>
          admin(`/admin/groups/${encodeURIComponent(from)}`, { method: 'PATCH', json: body });
        expect((await rename('no-such-group', { name: 'x' })).body).toMatchObject({
          status: 404,
          code: 'group_not_found',
        });
        expect((await rename(name, { name: taken.toUpperCase() })).body).toMatchObject({
          status: 409,
          code: 'group_exists',
        });
        for (const body of [
          { name: 'bad/name' },
          { name: '' },
          { name: 42 },
          {},
          { name: 'x'.repeat(256) },
        ]) {
          const res = await rename(name, body);
          expect(res.status).toBe(400);
          expect(res.body.code).toBe('validation_failed');
        }
        // A change of case only is a rename of the same group.
        expect((await rename(name, { name: name.toUpperCase() })).status).toBe(200);
      },
    );

    maybe('warden-admins can be neither renamed nor deleted', async () => {
      for (const res of [
        await admin('/admin/groups/warden-admins', { method: 'PATCH', json: { name: 'admins' } }),
        await admin('/admin/groups/WARDEN-ADMINS', { method: 'DELETE' }),
      ]) {
        expect(res.status).toBe(409);
        expect(res.body.code).toBe('admin_group_protected');
      }
      expect(await groupsOf(ADMIN_USERNAME)).toContain('warden-admins');
    });

    maybe(
      'a delete is refused, naming the lists, while a setting names the group; then it goes with its memberships',
      async () => {
        const name = await newGroup(t);
        const member = await newUser(t, { groups: [name] });
        await patchSettings(t, { groups: { readOnly: [name], apiAccess: [] } });

        const refused = await admin(`/admin/groups/${name}`, { method: 'DELETE' });
        expect(refused.status).toBe(409);
        expect(refused.body).toMatchObject({ code: 'group_in_use', settings: ['groups.readOnly'] });
        expect(refused.body.detail).toContain('groups.readOnly');
        expect(await groupsOf(member.username)).toEqual([name]);

        await patchSettings(t, { groups: { readOnly: [] } });
        expect((await admin(`/admin/groups/${name}`, { method: 'DELETE' })).status).toBe(204);
        expect(await groupsOf(member.username)).toEqual([]);
        expect((await admin(`/admin/groups/${name}`, { method: 'DELETE' })).status).toBe(404);
        const [event] = await auditEvents(t, { event: 'group.deleted' });
        expect(event.details).toMatchObject({ group: name, members: 1 });
      },
    );
  });
});
