import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, fieldErrors } from '../api';
import { Checkbox, Field, Notice, ProblemView, Section, TextField, useAction, when } from '../ui';
import { RowsTable } from './operations';

interface User {
  id: string;
  username: string;
  displayName: string | null;
  email: string | null;
  groups: string[];
  disabled: boolean;
  createdAt: string;
}

function GroupPicker({
  label,
  all,
  chosen,
  onChange,
}: {
  label: string;
  all: string[];
  chosen: string[];
  onChange: (g: string[]) => void;
}) {
  const options = [...new Set([...all, ...chosen])].sort();
  return (
    <Field label={label}>
      {(id) => (
        <select
          id={id}
          multiple
          size={Math.min(6, Math.max(3, options.length))}
          onChange={(e) =>
            onChange(
              Array.from((e.target as HTMLSelectElement).selectedOptions).map((o) => o.value),
            )
          }
        >
          {options.map((g) => (
            <option key={g} value={g} selected={chosen.includes(g)}>
              {g}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function UsersPage() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [groups, setGroups] = useState<string[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const load = async () => {
    setUsers((await call<{ items: User[] }>('GET', '/admin/users?limit=200')).body.items);
    setGroups((await call<{ name: string }[]>('GET', '/admin/groups')).body.map((g) => g.name));
  };
  const listing = useAction(load);
  useEffect(() => void listing.run(), []);
  return (
    <div class="grid">
      <Section title="Users">
        <ProblemView error={listing.error} />
        {users && (
          <ul class="list">
            {users.map((u) => (
              <li key={u.id}>
                <button
                  type="button"
                  class="link"
                  aria-pressed={selected === u.username}
                  onClick={() => setSelected(u.username)}
                >
                  {u.username}
                </button>{' '}
                {u.disabled && <span class="badge denied">disabled</span>}{' '}
                <small>{u.groups.join(', ')}</small>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <NewUser groups={groups} onCreated={load} />
      {selected && users?.find((u) => u.username === selected) && (
        <UserDetail
          key={selected}
          user={users.find((u) => u.username === selected)!}
          groups={groups}
          onChanged={load}
          onDeleted={() => {
            setSelected(null);
            void load();
          }}
        />
      )}
    </div>
  );
}

function NewUser({ groups, onCreated }: { groups: string[]; onCreated: () => Promise<void> }) {
  const [form, setForm] = useState({ username: '', password: '', displayName: '', email: '' });
  const [chosen, setChosen] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [done, setDone] = useState('');
  const create = useAction(async () => {
    setErrors({});
    setDone('');
    try {
      await call('POST', '/admin/users', {
        username: form.username,
        password: form.password,
        ...(form.displayName ? { displayName: form.displayName } : {}),
        ...(form.email ? { email: form.email } : {}),
        groups: chosen,
      });
      setDone(form.username);
      setForm({ username: '', password: '', displayName: '', email: '' });
      setChosen([]);
      await onCreated();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) setErrors(fieldErrors(err.problem));
      throw err;
    }
  });
  const set = (k: keyof typeof form) => (v: string) => setForm({ ...form, [k]: v });
  return (
    <Section title="New user">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <TextField
          label="New username"
          value={form.username}
          onInput={set('username')}
          errors={errors.username}
          required
          autoComplete="off"
        />
        <TextField
          label="Initial password"
          type="password"
          value={form.password}
          onInput={set('password')}
          errors={errors.password}
          required
          autoComplete="new-password"
        />
        <TextField
          label="Display name"
          value={form.displayName}
          onInput={set('displayName')}
          errors={errors.displayName}
        />
        <TextField
          label="Email"
          type="email"
          value={form.email}
          onInput={set('email')}
          errors={errors.email}
        />
        <GroupPicker
          label="Groups of the new user"
          all={groups}
          chosen={chosen}
          onChange={setChosen}
        />
        <ProblemView error={create.error} />
        <button type="submit" class="primary" disabled={create.busy}>
          Create user
        </button>
        {done && <Notice>Created {done}.</Notice>}
      </form>
    </Section>
  );
}

function UserDetail({
  user,
  groups,
  onChanged,
  onDeleted,
}: {
  user: User;
  groups: string[];
  onChanged: () => Promise<void>;
  onDeleted: () => void;
}) {
  const [displayName, setDisplayName] = useState(user.displayName ?? '');
  const [email, setEmail] = useState(user.email ?? '');
  const [chosen, setChosen] = useState(user.groups);
  const [disabled, setDisabled] = useState(user.disabled);
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [saved, setSaved] = useState('');
  const path = `/admin/users/${encodeURIComponent(user.username)}`;
  const patch = async (body: Record<string, unknown>, what: string) => {
    setErrors({});
    setSaved('');
    try {
      await call('PATCH', path, body);
      setSaved(what);
      await onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) setErrors(fieldErrors(err.problem));
      throw err;
    }
  };
  const save = useAction(() =>
    patch(
      { displayName: displayName || null, email: email || null, groups: chosen, disabled },
      'Saved.',
    ),
  );
  const setPw = useAction(async () => {
    await patch({ password }, 'Password set.');
    setPassword('');
  });
  const remove = useAction(async () => {
    if (!confirm(`Delete the user ${user.username}? Their tokens and sessions end.`)) return;
    await call('DELETE', path);
    onDeleted();
  });
  return (
    <Section title={`User ${user.username}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <TextField
          label="Display name"
          value={displayName}
          onInput={setDisplayName}
          errors={errors.displayName}
        />
        <TextField
          label="Email"
          type="email"
          value={email}
          onInput={setEmail}
          errors={errors.email}
        />
        <GroupPicker label="Groups" all={groups} chosen={chosen} onChange={setChosen} />
        <Checkbox label="Disabled" checked={disabled} onChange={setDisabled} />
        <ProblemView error={save.error} />
        <button type="submit" class="primary" disabled={save.busy}>
          Save user
        </button>
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void setPw.run();
        }}
      >
        <TextField
          label="New password"
          type="password"
          value={password}
          onInput={setPassword}
          errors={errors.password}
          autoComplete="new-password"
          required
        />
        <ProblemView error={setPw.error} />
        <button type="submit" disabled={setPw.busy}>
          Set password
        </button>
      </form>
      {saved && <Notice>{saved}</Notice>}
      <p class="hint">Created {when(user.createdAt)}</p>
      <UserSessions username={user.username} />
      <UserTokens username={user.username} />
      <ProblemView error={remove.error} />
      <button type="button" class="danger" onClick={() => void remove.run()}>
        Delete user
      </button>
    </Section>
  );
}

function UserSessions({ username }: { username: string }) {
  const base = `/admin/users/${encodeURIComponent(username)}/sessions`;
  const [sessions, setSessions] = useState<Record<string, unknown>[] | null>(null);
  const [missing, setMissing] = useState(false);
  const load = async () => {
    try {
      setSessions((await call<Record<string, unknown>[]>('GET', base)).body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.problem.code !== 'user_not_found')
        setMissing(true);
      else throw err;
    }
  };
  const listing = useAction(load);
  const end = useAction(async (id?: string) => {
    await call('DELETE', id ? `${base}/${encodeURIComponent(id)}` : base);
    await load();
  });
  useEffect(() => void listing.run(), [username]);
  return (
    <div class="sub">
      <h3>Sessions</h3>
      <ProblemView error={listing.error ?? end.error} />
      {missing && (
        <p class="hint">Listing another user’s sessions is not available on this instance.</p>
      )}
      {sessions && sessions.length === 0 && <p>No open sessions.</p>}
      {sessions && sessions.length > 0 && (
        <>
          <RowsTable
            rows={sessions}
            actions={(s) => (
              <button type="button" onClick={() => void end.run(String(s.id))}>
                End <span class="sr-only">session {String(s.id)}</span>
              </button>
            )}
          />
          <button type="button" class="danger" onClick={() => void end.run()}>
            End all sessions
          </button>
        </>
      )}
    </div>
  );
}

function UserTokens({ username }: { username: string }) {
  const base = `/admin/users/${encodeURIComponent(username)}/tokens`;
  const [tokens, setTokens] = useState<Record<string, unknown>[] | null>(null);
  const load = async () => setTokens((await call<Record<string, unknown>[]>('GET', base)).body);
  const listing = useAction(load);
  const revoke = useAction(async (id: string) => {
    await call('DELETE', `${base}/${encodeURIComponent(id)}`);
    await load();
  });
  useEffect(() => void listing.run(), [username]);
  return (
    <div class="sub">
      <h3>API tokens</h3>
      <ProblemView error={listing.error ?? revoke.error} />
      {tokens && tokens.length === 0 && <p>No API tokens.</p>}
      {tokens && tokens.length > 0 && (
        <RowsTable
          rows={tokens}
          columns={['name', 'prefix', 'scopes', 'expiresAt', 'lastUsedAt', 'status']}
          actions={(t) =>
            t.status === 'active' ? (
              <button type="button" class="danger" onClick={() => void revoke.run(String(t.id))}>
                Revoke <span class="sr-only">{String(t.name)}</span>
              </button>
            ) : (
              <span />
            )
          }
        />
      )}
    </div>
  );
}
