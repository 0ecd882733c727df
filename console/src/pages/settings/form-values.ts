import { compilePattern, isIpOrCidr } from '../../validate';

export type Doc = Record<string, unknown>;
export type Kind = 'boolean' | 'number' | 'text' | 'nullable' | 'lines' | 'json';
/** What a form control holds: a boolean for a toggle, text for everything else. */
export type FormValue = boolean | string;

export function kindOf(value: unknown): Kind {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'text';
  // Optional values (an IdP's URLs, keys, claims) are unset as null: text, empty for null.
  if (value === null) return 'nullable';
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return 'lines';
  return 'json';
}

export function toForm(value: unknown): FormValue {
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
export function fromForm(kind: Kind, value: FormValue): unknown {
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

export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Checks an entry of a list as the operator types it. */
export function lineErrors(section: string, key: string, text: string): string[] {
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

export function mapValues<T, U>(obj: Record<string, T>, fn: (v: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]));
}
