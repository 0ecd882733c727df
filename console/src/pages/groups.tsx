import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, fieldErrors } from '../api';
import { Notice, ProblemView, Section, TextField, useAction, when } from '../ui';

interface Group {
  id: string;
  name: string;
  createdAt: string;
}

/** Rename and delete need PATCH / DELETE /admin/groups/{name}; an instance without them says so. */
function unavailable(err: unknown): boolean {
  return (
    err instanceof ApiError &&
    (err.status === 404 || err.status === 405) &&
    !/group/.test(err.problem.code ?? '')
  );
}

export function GroupsPage() {
  const [groups, setGroups] = useState<Group[] | null>(null);
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [message, setMessage] = useState('');
  const load = async () => setGroups((await call<Group[]>('GET', '/admin/groups')).body);
  const listing = useAction(load);
  useEffect(() => void listing.run(), []);
  const create = useAction(async () => {
    setErrors({});
    try {
      await call('POST', '/admin/groups', { name });
      setMessage(`Created ${name}.`);
      setName('');
      await load();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) setErrors(fieldErrors(err.problem));
      throw err;
    }
  });
  const rename = useAction(async (from: string) => {
    const to = prompt(`New name for ${from}`, from);
    if (!to || to === from) return;
    try {
      await call('PATCH', `/admin/groups/${encodeURIComponent(from)}`, { name: to });
      setMessage(`Renamed ${from} to ${to}; settings that named it follow.`);
      await load();
    } catch (err) {
      if (unavailable(err))
        throw new Error('Renaming groups is not available on this instance yet.');
      throw err;
    }
  });
  const remove = useAction(async (group: string) => {
    if (!confirm(`Delete the group ${group}?`)) return;
    try {
      await call('DELETE', `/admin/groups/${encodeURIComponent(group)}`);
      setMessage(`Deleted ${group}.`);
      await load();
    } catch (err) {
      if (unavailable(err))
        throw new Error('Deleting groups is not available on this instance yet.');
      if (err instanceof ApiError && err.status === 409)
        throw new Error(
          `${group} is still in use: ${err.problem.detail ?? ''} Remove it from those settings first (Settings → Groups).`,
        );
      throw err;
    }
  });
  return (
    <div class="grid">
      <Section title="Groups">
        <ProblemView error={listing.error ?? rename.error ?? remove.error} />
        {message && <Notice>{message}</Notice>}
        {groups && (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {groups.map((g) => (
                  <tr key={g.id}>
                    <td>{g.name}</td>
                    <td>{when(g.createdAt)}</td>
                    <td class="buttons">
                      <button type="button" onClick={() => void rename.run(g.name)}>
                        Rename <span class="sr-only">{g.name}</span>
                      </button>
                      <button type="button" class="danger" onClick={() => void remove.run(g.name)}>
                        Delete <span class="sr-only">{g.name}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title="New group">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create.run();
          }}
        >
          <TextField
            label="Group name"
            value={name}
            onInput={setName}
            errors={errors.name}
            required
          />
          <ProblemView error={create.error} />
          <button type="submit" class="primary" disabled={create.busy}>
            Create group
          </button>
        </form>
      </Section>
    </div>
  );
}
