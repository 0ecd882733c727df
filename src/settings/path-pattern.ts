/**
 * Route patterns of `publicApis.paths` and `bypass.paths`: `/glob` or `METHOD /glob`, where
 * `*` matches within one path segment and `**` across segments. Checked when settings are
 * saved, so a bad pattern never reaches request time.
 */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const PATTERN = /^(?:([A-Z]+) )?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)$/;
const MAX_PATTERN = 500;

export interface PathPattern {
  method: string | null;
  regex: RegExp;
  source: string;
}

export function isValidPathPattern(value: string): boolean {
  return compilePathPattern(value) !== null;
}

export function compilePathPattern(value: string): PathPattern | null {
  if (value.length > MAX_PATTERN) return null;
  const match = PATTERN.exec(value);
  if (!match) return null;
  const [, method, glob] = match;
  if (method && !METHODS.includes(method)) return null;
  if (/\*{3,}/.test(glob)) return null;
  const body = glob
    .split(/(\*\*|\*)/)
    .map((part) =>
      part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return { method: method ?? null, regex: new RegExp(`^${body}$`), source: value };
}

export function matchesPath(patterns: PathPattern[], method: string, path: string): boolean {
  return patterns.some((p) => (p.method === null || p.method === method) && p.regex.test(path));
}
