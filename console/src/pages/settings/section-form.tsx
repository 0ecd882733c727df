import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, fieldErrors } from '../../api';
import { Notice, ProblemView, useId } from '../../ui';
import { FieldFor } from './field-for';
import {
  Doc,
  FormValue,
  fromForm,
  kindOf,
  lineErrors,
  mapValues,
  same,
  toForm,
} from './form-values';
import { humanize, SECTION_TITLES } from './labels';
import { PathTester } from './path-tester';
import { Conflict, ConflictNotice, LockoutNotice } from './save-notices';

export interface SectionProps {
  section: string;
  value: unknown;
  etag: string;
  groups: string[];
  onSaved: (doc: Doc, etag: string) => void;
  reload: () => Promise<{ doc: Doc; etag: string }>;
}

export function SectionForm({ section, value, etag, groups, onSaved, reload }: SectionProps) {
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
        <ConflictNotice
          conflict={conflict}
          busy={busy}
          onReapply={() => void reapply()}
          onDiscard={discard}
        />
      )}
      {lockout && (
        <LockoutNotice
          lockout={lockout}
          busy={busy}
          onApply={() => void save(etag, true)}
          onCancel={() => setLockout(null)}
        />
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
