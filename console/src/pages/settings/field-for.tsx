import { Checkbox, Field, TextField } from '../../ui';
import { FormValue, Kind } from './form-values';

export function FieldFor(props: {
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
