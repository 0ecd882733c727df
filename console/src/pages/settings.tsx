import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, fieldErrors } from '../api';
import { Checkbox, Field, Notice, ProblemView, TextField, useId } from '../ui';
import { compilePattern, isIpOrCidr, matchingPatterns } from '../validate';

type Doc = Record<string, unknown>;
type Kind = 'boolean' | 'number' | 'text' | 'nullable' | 'lines' | 'json';
/** What a form control holds: a boolean for a toggle, text for everything else. */
type FormValue = boolean | string;

const LABELS: Record<string, string> = {
  requests: 'Requests',
  windowSeconds: 'Window (seconds)',
  accessTtlSeconds: 'Access token lifetime (seconds)',
  refreshTtlSeconds: 'Refresh token lifetime (seconds)',
  rotateRefreshTokens: 'Rotate refresh tokens',
  reuseGraceSeconds: 'Reuse grace (seconds)',
  retentionDays: 'Retention (days)',
  maxEntries: 'Maximum rows',
  purgeCron: 'Purge schedule (cron)',
  allow: 'Allowed addresses (one per line)',
  trustedProxies: 'Trusted proxies (one per line)',
  clientIpHeader: 'Client address header',
  paths: 'Patterns (one per line)',
  apiAccess: 'API access groups',
  readOnly: 'Read-only groups',
  tokenCreators: 'Token creator groups',
};
const SECTION_TITLES: Record<string, string> = {
  restApiAuthentication: 'REST API authentication',
  basicAuth: 'Basic authentication',
  apiTokens: 'API tokens',
  nativeOAuthTokens: 'Native OAuth tokens',
  groups: 'Groups',
  ip: 'IP allow-list and trusted proxies',
  publicApis: 'Public APIs',
  bypass: 'Bypass',
  rateLimit: 'Rate limit',
  audit: 'Audit retention',
  tokens: 'Token lifetimes and rotation',
  keys: 'Signing keys',
  upstreamSessions: 'Upstream sessions',
  identityProviders: 'Identity providers',
};

const humanize = (key: string) =>
  LABELS[key] ?? key.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());

function kindOf(value: unknown): Kind {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'text';
  // Optional values (an IdP's URLs, keys, claims) are unset as null: text, empty for null.
  if (value === null) return 'nullable';
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return 'lines';
  return 'json';
}

function toForm(value: unknown): FormValue {
  switch (kindOf(value)) {
    case 'boolean':
      return value as boolean;
    case 'number':
      return String(value);
    case 'text':
      return value as string;
    case 'nullable':
      return '';
    case 'lines':
      return (value as string[]).join('\n');
    default:
      return JSON.stringify(value, null, 2);
  }
}

/** The form's value as the API takes it; throws with a message the field shows. */
function fromForm(kind: Kind, value: FormValue): unknown {
  switch (kind) {
    case 'boolean':
      return value;
    case 'number': {
      const n = Number(value);
      if ((value as string).trim() === '' || !Number.isFinite(n))
        throw new Error('must be a number');
      return n;
    }
    case 'text':
      return value;
    case 'nullable':
      return (value as string).trim() === '' ? null : value;
    case 'lines':
      return (value as string)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
    default:
      try {
        return JSON.parse(value as string);
      } catch {
        throw new Error('must be valid JSON');
      }
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Checks an entry of a list as the operator types it. */
function lineErrors(section: string, key: string, text: string): string[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (section === 'ip' && (key === 'allow' || key === 'trustedProxies'))
    return lines
      .filter((l) => !isIpOrCidr(l))
      .map((l) => `${l} is not an IP address or CIDR range`);
  if ((section === 'publicApis' || section === 'bypass') && key === 'paths')
    return lines
      .filter((l) => !compilePattern(l))
      .map((l) => `${l} is not a valid pattern (/glob or METHOD /glob)`);
  return [];
}

export function SettingsPage() {
  const [doc, setDoc] = useState<Doc | null>(null);
  const [etag, setEtag] = useState<string>('');
  const [groups, setGroups] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const load = async () => {
    const res = await call<Doc>('GET', '/admin/settings');
    setDoc(res.body);
    setEtag(res.headers.get('etag') ?? '');
    return { doc: res.body, etag: res.headers.get('etag') ?? '' };
  };
  useEffect(() => {
    load().catch(setError);
    call<{ name: string }[]>('GET', '/admin/groups')
      .then((r) => setGroups(r.body.map((g) => g.name)))
      .catch(() => setGroups([]));
  }, []);
  if (error) return <ProblemView error={error} />;
  if (!doc) return <p>Loading settings…</p>;
  return (
    <div class="settings">
      <p class="hint">
        Each section saves on its own. Version <code>{etag}</code>.
      </p>
      {Object.keys(doc).map((section) => (
        <SectionForm
          key={section}
          section={section}
          value={doc[section]}
          etag={etag}
          groups={groups}
          onSaved={(next, nextEtag) => {
            setDoc(next);
            setEtag(nextEtag);
          }}
          reload={load}
        />
      ))}
    </div>
  );
}

interface SectionProps {
  section: string;
  value: unknown;
  etag: string;
  groups: string[];
  onSaved: (doc: Doc, etag: string) => void;
  reload: () => Promise<{ doc: Doc; etag: string }>;
}

interface Conflict {
  theirs: { key: string; before: unknown; after: unknown }[];
  latestEtag: string;
  latest: unknown;
}

function SectionForm({ section, value, etag, groups, onSaved, reload }: SectionProps) {
  const flat = value !== null && typeof value === 'object' && !Array.isArray(value);
  // A section that is an object is a form of its fields; anything else one JSON field.
  const fields: Record<string, unknown> = flat
    ? (value as Record<string, unknown>)
    : { [section]: value };
  const [base, setBase] = useState(fields);
  const [form, setForm] = useState<Record<string, FormValue>>(() => mapValues(fields, toForm));
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [problem, setProblem] = useState<unknown>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [lockout, setLockout] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const headingId = useId('s');

  // Another section's save, or a reload: a section with no edits follows the server.
  useEffect(() => {
    const dirty = Object.keys(form).some((k) => !same(form[k], toForm(base[k])));
    if (!dirty) {
      setBase(fields);
      setForm(mapValues(fields, toForm));
    }
  }, [JSON.stringify(value)]);

  const changes = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    const problems: Record<string, string[]> = {};
    for (const key of Object.keys(form)) {
      const kind = kindOf(base[key]);
      try {
        const next = fromForm(kind, form[key]);
        if (!same(next, base[key])) out[key] = next;
      } catch (err) {
        problems[key] = [(err as Error).message];
      }
    }
    if (Object.keys(problems).length > 0) {
      setErrors(problems);
      throw new Error('Some fields are not valid');
    }
    return out;
  };

  const save = async (ifMatch: string, force = false, changed?: Record<string, unknown>) => {
    setBusy(true);
    setProblem(null);
    setSaved(false);
    setErrors({});
    try {
      const patch = changed ?? changes();
      if (Object.keys(patch).length === 0) {
        setProblem(new Error('Nothing to save: no field of this section was changed.'));
        return;
      }
      const body = flat ? { [section]: patch } : { [section]: patch[section] };
      const res = await call<Doc>('PATCH', `/admin/settings${force ? '?force=true' : ''}`, body, {
        'if-match': ifMatch,
        'content-type': 'application/json',
      });
      setConflict(null);
      setLockout(null);
      const next = res.body[section];
      const nextFields = flat ? (next as Record<string, unknown>) : { [section]: next };
      setBase(nextFields);
      setForm(mapValues(nextFields, toForm));
      setSaved(true);
      onSaved(res.body, res.headers.get('etag') ?? '');
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) {
        const latest = await reload();
        const now = latest.doc[section];
        const nowFields = flat ? (now as Record<string, unknown>) : { [section]: now };
        setConflict({
          theirs: Object.keys(nowFields)
            .filter((k) => !same(nowFields[k], base[k]))
            .map((k) => ({ key: k, before: base[k], after: nowFields[k] })),
          latestEtag: latest.etag,
          latest: now,
        });
      } else if (err instanceof ApiError && err.status === 409 && err.problem.code === 'lockout') {
        setLockout(err);
      } else if (err instanceof ApiError && err.status === 400) {
        const byField: Record<string, string[]> = {};
        for (const [path, messages] of Object.entries(fieldErrors(err.problem))) {
          const rest = path.startsWith(`${section}.`) ? path.slice(section.length + 1) : path;
          const key = flat ? rest.split('.')[0] : section;
          byField[key] = [...(byField[key] ?? []), ...messages];
        }
        setErrors(byField);
        setProblem(err);
      } else {
        setProblem(err);
      }
    } finally {
      setBusy(false);
    }
  };

  const reapply = async () => {
    if (!conflict) return;
    let mine: Record<string, unknown>;
    try {
      mine = changes();
    } catch (err) {
      setProblem(err);
      return;
    }
    const latest = conflict.latest;
    const latestFields = flat ? (latest as Record<string, unknown>) : { [section]: latest };
    setBase(latestFields);
    await save(conflict.latestEtag, false, mine);
  };
  const discard = () => {
    if (!conflict) return;
    const latestFields = flat
      ? (conflict.latest as Record<string, unknown>)
      : { [section]: conflict.latest };
    setBase(latestFields);
    setForm(mapValues(latestFields, toForm));
    setConflict(null);
  };

  return (
    <form
      class="card section-form"
      aria-labelledby={headingId}
      data-section={section}
      onSubmit={(e) => {
        e.preventDefault();
        void save(etag);
      }}
    >
      <h2 id={headingId}>{SECTION_TITLES[section] ?? humanize(section)}</h2>
      <div class="fields">
        {Object.keys(form).map((key) => (
          <FieldFor
            key={key}
            section={section}
            name={key}
            kind={kindOf(base[key])}
            value={form[key]}
            groups={groups}
            errors={[
              ...(errors[key] ?? []),
              ...(typeof form[key] === 'string'
                ? lineErrors(section, key, form[key] as string)
                : []),
            ]}
            onChange={(v) => setForm({ ...form, [key]: v })}
            label={flat ? humanize(key) : `${SECTION_TITLES[section] ?? humanize(section)} (JSON)`}
          />
        ))}
      </div>
      {(section === 'publicApis' || section === 'bypass') && (
        <PathTester patterns={String(form.paths ?? '').split('\n')} />
      )}
      {conflict && (
        <div class="conflict" role="alert">
          <strong>Someone else saved the settings since you loaded them.</strong>
          {conflict.theirs.length === 0 ? (
            <p>Nothing in this section changed; your changes can be applied on top.</p>
          ) : (
            <>
              <p>What changed in this section:</p>
              <ul>
                {conflict.theirs.map((c) => (
                  <li key={c.key}>
                    {humanize(c.key)}: <code>{JSON.stringify(c.before)}</code> →{' '}
                    <code>{JSON.stringify(c.after)}</code>
                  </li>
                ))}
              </ul>
            </>
          )}
          <div class="buttons">
            <button type="button" class="primary" onClick={() => void reapply()} disabled={busy}>
              Reapply my changes
            </button>
            <button type="button" onClick={discard}>
              Discard my changes
            </button>
          </div>
        </div>
      )}
      {lockout && (
        <div class="lockout" role="alert">
          <strong>This change would lock you out.</strong>
          <p>{lockout.problem.detail}</p>
          {Array.isArray(lockout.problem.lockout) && (
            <ul>
              {(lockout.problem.lockout as string[]).map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          )}
          <p>
            If you apply it anyway, your own requests from here will be refused from now on; only
            someone else, or the CLI on the server, can undo it.
          </p>
          <div class="buttons">
            <button
              type="button"
              class="danger"
              onClick={() => void save(etag, true)}
              disabled={busy}
            >
              Apply anyway
            </button>
            <button type="button" onClick={() => setLockout(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      <ProblemView error={problem instanceof ApiError && problem.status === 400 ? null : problem} />
      {problem instanceof ApiError && problem.status === 400 && (
        <p class="error" role="alert">
          {problem.problem.detail}
        </p>
      )}
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
        {saved && <Notice>Saved.</Notice>}
      </div>
    </form>
  );
}

function FieldFor(props: {
  section: string;
  name: string;
  kind: Kind;
  value: FormValue;
  label: string;
  groups: string[];
  errors: string[];
  onChange: (v: FormValue) => void;
}) {
  const { kind, value, label, errors, onChange } = props;
  if (kind === 'boolean')
    return <Checkbox label={label} checked={value as boolean} onChange={onChange} />;
  if (kind === 'lines' && props.section === 'groups') {
    const chosen = (value as string).split('\n').filter((l) => l !== '');
    const options = [...new Set([...props.groups, ...chosen])].sort();
    return (
      <Field label={label} errors={errors} hint="Ctrl or Shift + click (or Space) to pick several">
        {(id, described) => (
          <select
            id={id}
            multiple
            size={Math.min(6, Math.max(3, options.length))}
            aria-describedby={described}
            onChange={(e) =>
              onChange(
                Array.from((e.target as HTMLSelectElement).selectedOptions)
                  .map((o) => o.value)
                  .join('\n'),
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
  if (kind === 'lines' || kind === 'json')
    return (
      <Field label={label} errors={errors}>
        {(id, described) => (
          <textarea
            id={id}
            rows={kind === 'json' ? 8 : 3}
            value={value as string}
            spellcheck={false}
            aria-invalid={errors.length ? 'true' : undefined}
            aria-describedby={described}
            onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)}
          />
        )}
      </Field>
    );
  return (
    <TextField
      label={label}
      type={kind === 'number' ? 'number' : 'text'}
      value={value as string}
      errors={errors}
      onInput={onChange}
      hint={kind === 'nullable' && !value ? 'Not set' : undefined}
    />
  );
}

function PathTester({ patterns }: { patterns: string[] }) {
  const [method, setMethod] = useState('GET');
  const [path, setPath] = useState('');
  const methodId = useId('m');
  const found = path.startsWith('/')
    ? matchingPatterns(
        patterns.filter((p) => p.trim()),
        method,
        path,
      )
    : [];
  return (
    <fieldset class="tester">
      <legend>Test a path</legend>
      <div class="field">
        <label for={methodId}>Method</label>
        <select
          id={methodId}
          value={method}
          onChange={(e) => setMethod((e.target as HTMLSelectElement).value)}
        >
          {['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
      </div>
      <TextField
        label="Path to test"
        value={path}
        onInput={setPath}
        placeholder="/rest/api/2/issue/X-1"
      />
      <p role="status" class="hint">
        {!path
          ? 'Type a path starting with /.'
          : !path.startsWith('/')
            ? 'A path starts with /.'
            : found.length
              ? `Matches: ${found.join(', ')}`
              : 'No pattern matches this path.'}
      </p>
    </fieldset>
  );
}

function mapValues<T, U>(obj: Record<string, T>, fn: (v: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]));
}
