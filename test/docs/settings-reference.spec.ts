import type { Type } from '@nestjs/common';
import type { MetadataStorage as TransformerStorage } from 'class-transformer/types/MetadataStorage';
import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SettingsDto } from '../../src/settings/dto/settings.dto';
import {
  DEFAULT_SETTINGS,
  IDENTITY_PROVIDER_DEFAULTS,
} from '../../src/settings/settings.defaults';

/**
 * docs/settings.md documents every settings field with its default: each row of its tables is
 * "| `path` | `default as JSON` | effect |" (an identity provider's `name`, which has none, says
 * "required"). The rows must name exactly the fields of the defaults, with the same values.
 */
const DOC = readFileSync(join(__dirname, '..', '..', 'docs', 'settings.md'), 'utf8');
const REQUIRED = new Set(['identityProviders[].name']);

/** Every leaf of the defaults by dotted path; lists are leaves, the providers' list excepted. */
function leaves(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) leaves(child, prefix + key, out);
    return out;
  }
  out.set(prefix.replace(/\.$/, ''), value);
  return out;
}

function defaults(): Map<string, unknown> {
  const { identityProviders, ...rest } = DEFAULT_SETTINGS;
  expect(identityProviders).toEqual([]);
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(rest)) leaves(value, `${key}.`, out);
  for (const [key, value] of Object.entries(IDENTITY_PROVIDER_DEFAULTS))
    out.set(`identityProviders[].${key}`, value);
  return out;
}

// class-transformer keeps its `@Type` records here; the package exports no type for the path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: TransformerStorage;
};

/** Every field the settings DTO validates, by dotted path (`list[].field` inside a list). */
function validated(dto: Type, prefix = ''): string[] {
  const rules = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  const names = [...new Set(rules.map((rule) => rule.propertyName))];
  return names.flatMap((name) => {
    const nested = defaultMetadataStorage.findTypeMetadata(dto, name)?.typeFunction() as
      Type | undefined;
    if (!nested) return [prefix + name];
    const list = rules.some((rule) => rule.propertyName === name && rule.each);
    return validated(nested, `${prefix}${name}${list ? '[]' : ''}.`);
  });
}

function documented(doc: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of doc.matchAll(/^\| `([A-Za-z]+(?:\[\])?(?:\.[A-Za-z]+)+)` \| ([^|]+?) \|/gm)) {
    expect(rows.has(match[1])).toBe(false);
    rows.set(match[1], match[2]);
  }
  return rows;
}

/** The default a row states: a JSON value between backticks, or "required". */
function stated(cell: string): unknown {
  if (cell === 'required') return REQUIRED;
  const json = /^`(.*)`$/.exec(cell);
  if (!json) throw new Error(`not a default: ${cell}`);
  return JSON.parse(json[1]);
}

describe('docs/settings.md: every settings field, with its default', () => {
  const rows = documented(DOC);
  const fields = defaults();

  it.each([...fields.keys()].map((path) => [path]))('%s is documented with its default', (path) => {
    expect(rows.has(path)).toBe(true);
    expect(stated(rows.get(path)!)).toEqual(fields.get(path));
  });

  it('documents every field the settings DTO validates', () => {
    const fields = validated(SettingsDto);
    expect(fields).toContain('identityProviders[].clientSecret');
    expect(fields.filter((path) => !rows.has(path))).toEqual([]);
  });

  it("an identity provider's name is documented as required", () => {
    expect(rows.get('identityProviders[].name')).toBe('required');
  });

  it('documents no field the settings do not have', () => {
    const known = new Set([...fields.keys(), ...REQUIRED]);
    expect([...rows.keys()].filter((path) => !known.has(path))).toEqual([]);
  });

  it('reads a table row the way the reference writes it', () => {
    const sample = documented('| `tokens.accessTtlSeconds` | `900` | access token life |\n');
    expect([...sample]).toEqual([['tokens.accessTtlSeconds', '`900`']]);
  });
});
