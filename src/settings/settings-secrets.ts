import { MASK, SECRET_SETTINGS } from './settings.defaults';

/**
 * Where an `externalJwt` block (before identityProviders) kept its client secret. A stored
 * document of that shape still holds it sealed under this path's context until it is upgraded.
 */
export const LEGACY_SECRET_PATH = 'externalJwt.clientSecret';

/** Every path a sealed value may sit at in a stored document, the legacy one included. */
export const SEALED_SETTINGS_PATHS: readonly string[] = [...SECRET_SETTINGS, LEGACY_SECRET_PATH];

/** One secret in one document. */
export interface SecretSlot {
  /** Where it is, entries by name: `identityProviders[corporate].clientSecret`. */
  key: string;
  /** What it is sealed under: `settings:<path>` with the path as declared (`[]`, not the name). */
  context: string;
  get(): unknown;
  set(value: unknown): void;
}

const EACH = Symbol('each');
type Segment = string | typeof EACH;

/** `identityProviders[].clientSecret` → ['identityProviders', EACH, 'clientSecret']. */
function parse(path: string): Segment[] {
  const segments: Segment[] = [];
  for (const part of path.split('.')) {
    if (part === '') continue;
    const list = part.endsWith('[]');
    const name = list ? part.slice(0, -2) : part;
    if (name !== '') segments.push(name);
    if (list) segments.push(EACH);
  }
  return segments;
}

/** The secrets a document holds at these paths (list entries each once, named by `name`). */
export function secretSlots(
  document: unknown,
  paths: readonly string[] = SECRET_SETTINGS,
): SecretSlot[] {
  const slots: SecretSlot[] = [];
  for (const path of paths) collect(document, parse(path), '', `settings:${path}`, slots);
  return slots;
}

function collect(
  node: unknown,
  segments: Segment[],
  key: string,
  context: string,
  out: SecretSlot[],
): void {
  const [head, ...rest] = segments;
  if (head === undefined) return;
  if (head === EACH) {
    if (!Array.isArray(node)) return;
    node.forEach((entry, index) => {
      const name = isObject(entry) && typeof entry.name === 'string' ? entry.name : String(index);
      collect(entry, rest, `${key}[${name}]`, context, out);
    });
    return;
  }
  if (!isObject(node)) return;
  const here = key ? `${key}.${head}` : head;
  if (rest.length > 0) return collect(node[head], rest, here, context, out);
  if (!Object.hasOwn(node, head)) return;
  out.push({
    key: here,
    context,
    get: () => node[head],
    set: (value) => {
      node[head] = value;
    },
  });
}

/** A key of a diff (`identityProviders[corporate].clientSecret`) as its declared path. */
function declared(key: string): string {
  return key.replace(/\[[^\]]*\]/g, '[]');
}

/** Whether a diff key names a secret itself. */
export function isSecretKey(key: string): boolean {
  return (SECRET_SETTINGS as readonly string[]).includes(declared(key));
}

/**
 * A value found at a diff key with every secret inside it masked (a whole provider added or
 * removed): the audit names that a secret is there, never what it is.
 */
export function maskedWithin(key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const at = declared(key);
  const inner = SECRET_SETTINGS.filter((p) => p.startsWith(at) && /^[.[]/.test(p.slice(at.length)));
  if (inner.length === 0) return value;
  const copy = structuredClone(value);
  for (const slot of secretSlots(
    copy,
    inner.map((p) => p.slice(at.length)),
  ))
    if (slot.get() !== null && slot.get() !== undefined) slot.set(MASK);
  return copy;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
