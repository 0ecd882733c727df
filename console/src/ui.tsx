import type { ComponentChildren, JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from './api';

let nextId = 0;
/** A stable id for a label's `for`. */
export function useId(prefix: string): string {
  const [id] = useState(() => `${prefix}-${++nextId}`);
  return id;
}

interface FieldProps {
  label: string;
  errors?: string[];
  hint?: string;
  children: (id: string, describedBy: string | undefined) => JSX.Element;
}

/** A labelled control with its errors beside it (announced to screen readers). */
export function Field({ label, errors, hint, children }: FieldProps) {
  const id = useId('f');
  const described = errors?.length ? `${id}-err` : hint ? `${id}-hint` : undefined;
  return (
    <div class={`field${errors?.length ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children(id, described)}
      {hint && !errors?.length && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {errors?.length ? (
        <small id={`${id}-err`} class="error" role="alert">
          {errors.join('; ')}
        </small>
      ) : null}
    </div>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: string;
  errors?: string[];
  hint?: string;
  required?: boolean;
  autoComplete?: string;
  placeholder?: string;
}) {
  return (
    <Field label={props.label} errors={props.errors} hint={props.hint}>
      {(id, describedBy) => (
        <input
          id={id}
          type={(props.type ?? 'text') as 'text'}
          value={props.value}
          required={props.required}
          autoComplete={props.autoComplete}
          placeholder={props.placeholder}
          aria-invalid={props.errors?.length ? 'true' : undefined}
          aria-describedby={describedBy}
          onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
        />
      )}
    </Field>
  );
}

export function Checkbox(props: {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
}) {
  const id = useId('c');
  return (
    <div class="field checkbox">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
      />
      <label for={id}>{props.label}</label>
    </div>
  );
}

/** The API's refusal, readable: its title, detail and code. */
export function ProblemView({ error }: { error: unknown }) {
  if (!error) return null;
  if (error instanceof ApiError)
    return (
      <div class="problem" role="alert">
        <strong>
          {error.problem.title ?? 'Error'} ({error.status})
        </strong>
        {error.problem.detail && <p>{error.problem.detail}</p>}
        {error.problem.code && <p class="code">code: {error.problem.code}</p>}
      </div>
    );
  return (
    <div class="problem" role="alert">
      {String((error as Error).message ?? error)}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="card" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export const when = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '—';

/** Runs an action, keeping its error and a busy flag for the button that started it. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      await action(...args);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}
