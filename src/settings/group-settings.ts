import { GROUP_SETTINGS } from './settings.defaults';

/**
 * The group lists of a settings document as stored (JSON; secrets sealed, which these functions
 * never touch). Group names compare regardless of case, as the directory compares them.
 */
type Document = Record<string, unknown>;

function listAt(document: Document, path: string): string[] | undefined {
  const value = path
    .split('.')
    .reduce<unknown>(
      (o, k) => (o !== null && typeof o === 'object' ? (o as Document)[k] : undefined),
      document,
    );
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** The settings paths whose list names `group`. */
export function settingsNamingGroup(document: Document, group: string): string[] {
  const key = group.toLowerCase();
  return GROUP_SETTINGS.filter((path) =>
    listAt(document, path)?.some((name) => name.toLowerCase() === key),
  );
}

/**
 * Renames `from` to `to` in every group list of `document` (in place), keeping each list's
 * order and naming the new group once; returns the paths changed.
 */
export function renameGroupInSettings(document: Document, from: string, to: string): string[] {
  const changed = settingsNamingGroup(document, from);
  for (const path of changed) {
    const list = listAt(document, path)!;
    const renamed = list.map((name) => (name.toLowerCase() === from.toLowerCase() ? to : name));
    const once = renamed.filter(
      (name, i) => renamed.findIndex((n) => n.toLowerCase() === name.toLowerCase()) === i,
    );
    list.splice(0, list.length, ...once);
  }
  return changed;
}
