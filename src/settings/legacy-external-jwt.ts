import { IDENTITY_PROVIDER_DEFAULTS, LEGACY_PROVIDER_NAME } from './settings.defaults';

/**
 * Documents written before `identityProviders` held one provider as `externalJwt`. Such a
 * document still arrives: stored by an earlier version, exported by one (a CMJ import), or sent
 * by a script written for it (PUT or PATCH). Its block becomes the entry named `default`:
 *
 * - merged over the `default` entry the document already lists, if any (so that a PATCH
 *   `{"externalJwt": {"enabled": false}}` switches that provider off and leaves the rest);
 * - a block that says nothing but the defaults (never configured) adds no entry;
 * - `"externalJwt": null` (RFC 7396: remove) removes the `default` entry.
 *
 * Returns whether the document had such a block. Anything but an object or null is left in
 * place, for validation to refuse by name.
 */
export function upgradeExternalJwt(document: Record<string, unknown>): boolean {
  if (!Object.hasOwn(document, 'externalJwt')) return false;
  const legacy = document.externalJwt;
  if (legacy !== null && !isObject(legacy)) return false;
  delete document.externalJwt;
  const list = Array.isArray(document.identityProviders) ? [...document.identityProviders] : [];
  const index = list.findIndex((e) => isObject(e) && e.name === LEGACY_PROVIDER_NAME);
  if (legacy === null) {
    if (index >= 0) list.splice(index, 1);
  } else {
    const base = index >= 0 ? (list[index] as Record<string, unknown>) : IDENTITY_PROVIDER_DEFAULTS;
    const entry = { ...base, ...legacy, name: LEGACY_PROVIDER_NAME };
    if (index >= 0) list[index] = entry;
    else if (!saysOnlyDefaults(entry)) list.push(entry);
  }
  document.identityProviders = list;
  return true;
}

/** Entries name only what differs from IDENTITY_PROVIDER_DEFAULTS; the rest is filled in. */
export function completeProviders(document: Record<string, unknown>): void {
  if (!Array.isArray(document.identityProviders)) return;
  document.identityProviders = document.identityProviders.map((entry: unknown) =>
    isObject(entry) ? { ...IDENTITY_PROVIDER_DEFAULTS, ...entry } : entry,
  );
}

function saysOnlyDefaults(entry: Record<string, unknown>): boolean {
  const { name: _name, ...rest } = entry;
  return JSON.stringify(sorted(rest)) === JSON.stringify(sorted({ ...IDENTITY_PROVIDER_DEFAULTS }));
}

function sorted(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
