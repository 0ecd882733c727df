/** Checks made as the operator types; the API checks again on save. */

export function isIpOrCidr(value: string): boolean {
  const [address, prefix, extra] = value.trim().split('/');
  if (extra !== undefined || !address) return false;
  const v4 = isIpv4(address);
  const v6 = !v4 && isIpv6(address);
  if (!v4 && !v6) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (v4 ? 32 : 128);
}

function isIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIpv6(value: string): boolean {
  if (!value.includes(':') || !/^[0-9a-fA-F:.]+$/.test(value)) return false;
  try {
    // The URL parser knows IPv6 literals exactly.
    new URL(`http://[${value}]/`);
    return true;
  } catch {
    return false;
  }
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const PATTERN = /^(?:([A-Z]+) )?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)$/;

/** `/glob` or `METHOD /glob`, as Warden's settings take them (`*` one segment, `**` any). */
export function compilePattern(value: string): { method: string | null; regex: RegExp } | null {
  const match = PATTERN.exec(value.trim());
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
  return { method: method ?? null, regex: new RegExp(`^${body}$`) };
}

/** The patterns a method and path match. */
export function matchingPatterns(patterns: string[], method: string, path: string): string[] {
  return patterns.filter((p) => {
    const compiled = compilePattern(p);
    return (
      compiled !== null &&
      (compiled.method === null || compiled.method === method) &&
      compiled.regex.test(path)
    );
  });
}
