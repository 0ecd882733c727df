import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROBLEM_CODES } from '../../src/common/problem/problem-codes';

/** docs/errors.md lists every problem code as "| `code` | status | meaning |", and no other. */
const DOC = readFileSync(join(__dirname, '..', '..', 'docs', 'errors.md'), 'utf8');

function documented(doc: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of doc.matchAll(/^\| `([a-z_]+)` \| ([^|]+?) \|/gm)) {
    expect(rows.has(match[1])).toBe(false);
    rows.set(match[1], match[2]);
  }
  return rows;
}

const statusOf = (status: number | string | readonly number[]) =>
  Array.isArray(status) ? status.join(', ') : String(status);

describe('docs/errors.md: every problem code with its status', () => {
  const rows = documented(DOC);

  it.each(Object.entries(PROBLEM_CODES).map(([code, { status }]) => [code, statusOf(status)]))(
    '%s is documented as %s',
    (code, status) => {
      expect(rows.get(code)).toBe(status);
    },
  );

  it('documents no code the catalogue does not hold', () => {
    expect([...rows.keys()].filter((code) => !(code in PROBLEM_CODES))).toEqual([]);
  });

  it('reads a table row the way the reference writes it', () => {
    expect([...documented('| `token_expired` | 401 | The token has expired |\n')]).toEqual([
      ['token_expired', '401'],
    ]);
  });
});
