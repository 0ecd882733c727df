import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import { Field, Notice, ProblemView, Section, TextField, useAction } from '../ui';

type Row = Record<string, unknown>;

/**
 * The identity providers (the `identityProviders` list), the Forge Remote preset (adds or
 * replaces its one entry) and the token tester (which provider judged a token, and why). Editing
 * is in Settings.
 */
export function IdentityProvidersPage() {
  const [providers, setProviders] = useState<Row[] | null>(null);
  const load = () =>
    call<Row>('GET', '/admin/settings').then((r) => {
      setProviders((r.body.identityProviders as Row[] | undefined) ?? []);
    });
  const listing = useAction(load);
  useEffect(() => void listing.run(), []);
  const [appId, setAppId] = useState('');
  const [caller, setCaller] = useState('installation');
  const preset = useAction(async () => {
    await call('POST', '/admin/identity-providers/presets/forge-remote', { appId, caller });
    setApplied(true);
    await load();
  });
  const [applied, setApplied] = useState(false);
  const [token, setToken] = useState('');
  const [verdict, setVerdict] = useState<Row | null>(null);
  const test = useAction(async () => {
    setVerdict((await call<Row>('POST', '/admin/identity-providers/test', { token })).body);
  });
  return (
    <div class="grid">
      <Section title="Providers">
        <ProblemView error={listing.error} />
        {providers?.map((p) => (
          <dl class="facts" key={String(p.name)}>
            {Object.entries(p).map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{v === null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>
              </>
            ))}
          </dl>
        ))}
        <p>
          <a href="#/settings">Edit in Settings</a>
        </p>
      </Section>
      <Section title="Forge Remote preset">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void preset.run();
          }}
        >
          <TextField
            label="Forge app id"
            value={appId}
            onInput={setAppId}
            required
            placeholder="ari:cloud:ecosystem::app/…"
          />
          <Field label="Caller">
            {(id) => (
              <select
                id={id}
                value={caller}
                onChange={(e) => setCaller((e.target as HTMLSelectElement).value)}
              >
                <option value="installation">installation</option>
                <option value="account">account</option>
              </select>
            )}
          </Field>
          <ProblemView error={preset.error} />
          <button type="submit" class="primary" disabled={preset.busy}>
            Apply preset
          </button>
          {applied && <Notice>Preset applied.</Notice>}
        </form>
      </Section>
      <Section title="Test token">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void test.run();
          }}
        >
          <Field label="Token">
            {(id) => (
              <textarea
                id={id}
                rows={4}
                value={token}
                spellcheck={false}
                onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
              />
            )}
          </Field>
          <ProblemView error={test.error} />
          <button type="submit" class="primary" disabled={test.busy}>
            Test token
          </button>
        </form>
        {verdict && (
          <pre class="metrics" role="status">
            {JSON.stringify(verdict, null, 2)}
          </pre>
        )}
      </Section>
    </div>
  );
}
