import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, fieldErrors } from '../api';
import { Checkbox, Notice, ProblemView, Section, TextField, useAction, when } from '../ui';

interface Token {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  status: string;
}

export function TokensPage() {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [scopes, setScopes] = useState<string[]>(['read']);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const load = () => call<Token[]>('GET', '/tokens').then((r) => setTokens(r.body));
  const listing = useAction(load);
  useEffect(() => void listing.run(), []);
  const create = useAction(async () => {
    setErrors({});
    setCreated(null);
    setCopied(false);
    try {
      const res = await call<Token & { token: string }>('POST', '/tokens', {
        name,
        scopes,
        ...(days.trim() ? { expiresInDays: Number(days) } : {}),
      });
      setCreated({ name: res.body.name, token: res.body.token });
      setName('');
      await load();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) setErrors(fieldErrors(err.problem));
      throw err;
    }
  });
  const revoke = useAction(async (id: string) => {
    await call('DELETE', `/tokens/${encodeURIComponent(id)}`);
    await load();
  });
  const toggle = (scope: string, on: boolean) =>
    setScopes(on ? [...new Set([...scopes, scope])] : scopes.filter((s) => s !== scope));
  return (
    <div class="stack">
      <Section title="New API token">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create.run();
          }}
        >
          <TextField label="Name" value={name} onInput={setName} errors={errors.name} required />
          <fieldset>
            <legend>Scopes</legend>
            {['read', 'write', 'admin'].map((s) => (
              <Checkbox
                key={s}
                label={s}
                checked={scopes.includes(s)}
                onChange={(on) => toggle(s, on)}
              />
            ))}
            {errors.scopes && <small class="error">{errors.scopes.join('; ')}</small>}
          </fieldset>
          <TextField
            label="Expires in (days)"
            type="number"
            value={days}
            onInput={setDays}
            errors={errors.expiresInDays}
          />
          <ProblemView error={create.error} />
          <button type="submit" class="primary" disabled={create.busy}>
            Create token
          </button>
        </form>
        {created && (
          <div class="secret" role="status">
            <p>
              <strong>Token “{created.name}” created.</strong> Copy it now: it is shown only once.
            </p>
            <label for="new-token">New token</label>
            <input
              id="new-token"
              readOnly
              value={created.token}
              onFocus={(e) => (e.target as HTMLInputElement).select()}
            />
            <div class="buttons">
              <button
                type="button"
                onClick={() => {
                  // Either outcome is shown: the copy's promise settles into setCopied.
                  void navigator.clipboard.writeText(created.token).then(
                    () => setCopied(true),
                    () => setCopied(false),
                  );
                }}
              >
                Copy
              </button>
              <button type="button" onClick={() => setCreated(null)}>
                Done
              </button>
            </div>
            {copied && <Notice>Copied.</Notice>}
          </div>
        )}
      </Section>
      <Section title="Your tokens">
        <ProblemView error={listing.error ?? revoke.error} />
        {tokens && tokens.length === 0 && <p>No tokens yet.</p>}
        {tokens && tokens.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.map((t) => (
                  <tr key={t.id}>
                    <td>{t.name}</td>
                    <td>
                      <code>{t.prefix}</code>
                    </td>
                    <td>{t.scopes.join(', ')}</td>
                    <td>{when(t.expiresAt)}</td>
                    <td>
                      {when(t.lastUsedAt)}
                      {t.lastUsedIp ? ` from ${t.lastUsedIp}` : ''}
                    </td>
                    <td>{t.status}</td>
                    <td>
                      {t.status === 'active' && (
                        <button
                          type="button"
                          class="danger"
                          aria-label={`Revoke ${t.name}`}
                          onClick={() =>
                            confirm(`Revoke the token “${t.name}”?`) && void revoke.run(t.id)
                          }
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}
