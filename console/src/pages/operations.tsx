import { useEffect, useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import { Notice, ProblemView, Section, useAction, when } from '../ui';

type Row = Record<string, unknown>;

const cell = (v: unknown) =>
  v === null || v === undefined
    ? '—'
    : typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)
      ? when(v)
      : typeof v === 'object'
        ? JSON.stringify(v)
        : String(v);

/** A plain table of whatever the API lists, its columns from the rows' own fields. */
export function RowsTable({
  rows,
  columns,
  actions,
}: {
  rows: Row[];
  columns?: string[];
  actions?: (row: Row) => preact.JSX.Element;
}) {
  const keys = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            {keys.map((k) => (
              <th scope="col" key={k}>
                {k}
              </th>
            ))}
            {actions && (
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={String(r.id ?? r.clientKey ?? r.kid ?? i)}>
              {keys.map((k) => (
                <td key={k}>{cell(r[k])}</td>
              ))}
              {actions && <td>{actions(r)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ConnectPage() {
  const [tenants, setTenants] = useState<Row[] | null>(null);
  const load = () => call<Row[]>('GET', '/admin/connect/tenants').then((r) => setTenants(r.body));
  const listing = useAction(load);
  const toggle = useAction(async (clientKey: string, enabled: boolean) => {
    await call('PATCH', `/admin/connect/tenants/${encodeURIComponent(clientKey)}`, { enabled });
    await load();
  });
  useEffect(() => void listing.run(), []);
  return (
    <Section title="Tenants">
      <ProblemView error={listing.error ?? toggle.error} />
      {tenants && tenants.length === 0 && <p>No Atlassian product has installed the app yet.</p>}
      {tenants && tenants.length > 0 && (
        <RowsTable
          rows={tenants}
          columns={[
            'clientKey',
            'baseUrl',
            'productType',
            'enabled',
            'installedAt',
            'uninstalledAt',
          ]}
          actions={(t) => (
            <button type="button" onClick={() => void toggle.run(String(t.clientKey), !t.enabled)}>
              {t.enabled ? 'Disable' : 'Enable'} <span class="sr-only">{String(t.clientKey)}</span>
            </button>
          )}
        />
      )}
    </Section>
  );
}

export function CmjPage() {
  const [ops, setOps] = useState<Row[] | null>(null);
  const listing = useAction(() =>
    call<Row[]>('GET', '/admin/migration/operations?limit=100').then((r) => setOps(r.body)),
  );
  useEffect(() => void listing.run(), []);
  return (
    <Section title="CMJ operations">
      <ProblemView error={listing.error} />
      {ops && ops.length === 0 && <p>No CMJ operation has run yet.</p>}
      {ops && ops.length > 0 && <RowsTable rows={ops} />}
    </Section>
  );
}

export function KeysPage() {
  const [keys, setKeys] = useState<Row[] | null>(null);
  const [jwks, setJwks] = useState<Row[] | null>(null);
  const [rotated, setRotated] = useState(false);
  const load = async () => {
    try {
      const res = await call<Row[] | { keys: Row[] }>('GET', '/admin/keys');
      setKeys(Array.isArray(res.body) ? res.body : res.body.keys);
    } catch (err) {
      // Key management routes are not there yet on this instance: show what is published.
      if (!(err instanceof ApiError && (err.status === 404 || err.status === 405))) throw err;
      setKeys(null);
      const res = await fetch('/.well-known/jwks.json');
      setJwks(((await res.json()) as { keys: Row[] }).keys);
    }
  };
  const listing = useAction(load);
  const rotate = useAction(async () => {
    await call('POST', '/admin/keys/rotate', {});
    setRotated(true);
    await load();
  });
  useEffect(() => void listing.run(), []);
  return (
    <Section title="Signing keys">
      <ProblemView error={listing.error ?? rotate.error} />
      {keys && (
        <>
          <RowsTable rows={keys} />
          <button
            type="button"
            class="primary"
            onClick={() => void rotate.run()}
            disabled={rotate.busy}
          >
            Rotate
          </button>
          {rotated && <Notice>A new key is published as next.</Notice>}
        </>
      )}
      {jwks && (
        <>
          <p class="hint">
            Key management is not available on this instance; these are the public keys it publishes
            at <a href="/.well-known/jwks.json">/.well-known/jwks.json</a>. Rotate with the CLI.
          </p>
          <RowsTable rows={jwks} columns={['kid', 'kty', 'alg', 'use', 'crv']} />
        </>
      )}
    </Section>
  );
}
