import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, download, fieldErrors, qs } from '../api';
import { Field, ProblemView, TextField, useAction, when } from '../ui';

interface Entry {
  id: string;
  at: string;
  event: string;
  outcome: string;
  actor: string | null;
  authMethod: string | null;
  credentialId: string | null;
  ip: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  reason: string | null;
  [key: string]: unknown;
}

interface Filters {
  from: string;
  to: string;
  outcome: string;
  event: string;
  actor: string;
  ip: string;
  credential: string;
}

const EMPTY: Filters = {
  from: '',
  to: '',
  outcome: '',
  event: '',
  actor: '',
  ip: '',
  credential: '',
};
const PAGE = 50;

/** datetime-local (the operator's local time) as the ISO 8601 instant the API takes. */
const instant = (local: string) => (local ? new Date(local).toISOString() : undefined);

function query(f: Filters) {
  return {
    from: instant(f.from),
    to: instant(f.to),
    outcome: f.outcome,
    event: f.event.trim(),
    actor: f.actor.trim(),
    ip: f.ip.trim(),
    credential: f.credential.trim(),
  };
}

export function AuditPage() {
  const [form, setForm] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [open, setOpen] = useState<Entry | null>(null);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const fetchPage = async (filters: Filters, after: string | null) => {
    setErrors({});
    try {
      const res = await call<{ items: Entry[]; nextCursor: string | null }>(
        'GET',
        `/admin/audit${qs({ ...query(filters), limit: PAGE, cursor: after })}`,
      );
      setRows(after ? [...rows, ...res.body.items] : res.body.items);
      setCursor(res.body.nextCursor);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) setErrors(fieldErrors(err.problem));
      throw err;
    }
  };
  const search = useAction(async (filters: Filters) => {
    setApplied(filters);
    setOpen(null);
    await fetchPage(filters, null);
  });
  const more = useAction(() => fetchPage(applied, cursor));
  const exporting = useAction((format: 'ndjson' | 'csv') =>
    download(`/admin/audit/export${qs({ ...query(applied), format })}`, `audit.${format}`),
  );
  useEffect(() => void search.run(EMPTY), []);
  const set = (key: keyof Filters) => (value: string) => setForm({ ...form, [key]: value });
  return (
    <div class="audit">
      <form
        class="card filters"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          void search.run(form);
        }}
      >
        <div class="row wrap">
          <TextField
            label="From"
            type="datetime-local"
            value={form.from}
            onInput={set('from')}
            errors={errors.from}
          />
          <TextField
            label="To"
            type="datetime-local"
            value={form.to}
            onInput={set('to')}
            errors={errors.to}
          />
          <Field label="Outcome" errors={errors.outcome}>
            {(id) => (
              <select
                id={id}
                value={form.outcome}
                onChange={(e) => set('outcome')((e.target as HTMLSelectElement).value)}
              >
                <option value="">any</option>
                {['allowed', 'denied', 'success', 'failure'].map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            )}
          </Field>
          <TextField
            label="Event"
            value={form.event}
            onInput={set('event')}
            errors={errors.event}
            placeholder="settings.* or auth.login.failed"
          />
          <TextField
            label="Actor"
            value={form.actor}
            onInput={set('actor')}
            errors={errors.actor}
          />
          <TextField label="IP" value={form.ip} onInput={set('ip')} errors={errors.ip} />
          <TextField
            label="Credential"
            value={form.credential}
            onInput={set('credential')}
            errors={errors.credential}
          />
        </div>
        <div class="buttons">
          <button type="submit" class="primary" disabled={search.busy}>
            Filter
          </button>
          <button
            type="button"
            onClick={() => {
              setForm(EMPTY);
              void search.run(EMPTY);
            }}
          >
            Clear
          </button>
          <button type="button" onClick={() => void exporting.run('ndjson')}>
            Export NDJSON
          </button>
          <button type="button" onClick={() => void exporting.run('csv')}>
            Export CSV
          </button>
        </div>
        <ProblemView error={search.error ?? more.error ?? exporting.error} />
      </form>
      <section class="card" aria-label="Audit events">
        {rows.length === 0 && !search.busy && <p>No events match.</p>}
        {rows.length > 0 && (
          <div class="table-wrap">
            <table class="audit-table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Actor</th>
                  <th scope="col">IP</th>
                  <th scope="col">Request</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.id} class={open?.id === r.id ? 'selected' : ''}>
                    <td>
                      <button
                        type="button"
                        class="link"
                        onClick={() => setOpen(r)}
                        aria-label={`Details of event ${r.id}`}
                      >
                        {when(r.at)}
                      </button>
                    </td>
                    <td>{r.event}</td>
                    <td>
                      <span class={`badge ${r.outcome}`}>{r.outcome}</span>
                    </td>
                    <td>{r.actor ?? '—'}</td>
                    <td>{r.ip ?? '—'}</td>
                    <td class="path">
                      {r.method} {r.path} {r.status ?? ''}
                    </td>
                    <td>{r.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {cursor && (
          <button type="button" onClick={() => void more.run()} disabled={more.busy}>
            Older events
          </button>
        )}
      </section>
      {open && (
        <section class="card detail" aria-label="Event detail">
          <h2>Event {open.id}</h2>
          <dl class="facts">
            {Object.entries(open).map(([k, v]) => (
              <>
                <dt key={`${k}-t`}>{k}</dt>
                <dd key={`${k}-d`}>
                  {v !== null && typeof v === 'object' ? (
                    <pre>{JSON.stringify(v, null, 2)}</pre>
                  ) : (
                    String(v ?? '—')
                  )}
                </dd>
              </>
            ))}
          </dl>
          <button type="button" onClick={() => setOpen(null)}>
            Close
          </button>
        </section>
      )}
    </div>
  );
}
