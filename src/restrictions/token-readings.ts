/**
 * Lenient readings of a bearer token, for one question only: does anything in it name one of the
 * given marks (Warden's issuer, a signing key's kid, a provider's issuer)?
 *
 * A verifier reads a token strictly (decodeJws) and refuses every other spelling; other JWT
 * libraries are kinder and accept `=` padding, the standard base64 alphabet, whitespace, an
 * extra segment. So a token that fails Warden's strict reading may still be one of Warden's to a
 * lenient upstream, and whether it is "not ours" is asked the lenient way: each segment is
 * decoded with whatever is not base64 dropped, at every alignment (junk put in front of a
 * segment shifts its bits), JSON escapes (`\/`, `\u0068`) are undone, and case is ignored.
 * Finding a mark where there was none only refuses a token; missing one would let a revoked or
 * forged token of Warden's through unjudged.
 */

/** At most this many characters of a token are read (the header's own bound is 16 KiB). */
const MAX_READ = 16 * 1024;
const NOT_BASE64 = /[^A-Za-z0-9+/]/g;
const JSON_UNICODE_ESCAPE = /\\u([0-9a-fA-F]{4})/g;

/** Whether any lenient reading of the token contains one of the marks (non-empty ones only). */
export function namesAny(token: string, marks: readonly string[]): boolean {
  const wanted = marks.filter((m) => m.length > 0).map((m) => m.toLowerCase());
  if (wanted.length === 0) return false;
  return readingsOf(token).some((text) => wanted.some((mark) => text.includes(mark)));
}

/** The token as it is, and every segment's decoded text at each of the four alignments. */
export function readingsOf(token: string): string[] {
  const text = token.slice(0, MAX_READ);
  const readings = [unescaped(text)];
  for (const segment of text.split('.')) {
    const clean = segment.replace(/-/g, '+').replace(/_/g, '/').replace(NOT_BASE64, '');
    for (let shift = 0; shift < 4 && shift < clean.length; shift++) {
      // As UTF-8: bytes that are not UTF-8 become U+FFFD, ASCII around them stays as it is.
      readings.push(unescaped(Buffer.from(clean.slice(shift), 'base64').toString('utf8')));
    }
  }
  return readings;
}

/** JSON escapes undone, so `https:\/\/warden` and `\u0068ttps` read as what they spell. */
function unescaped(text: string): string {
  return text
    .replace(JSON_UNICODE_ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/\\\//g, '/')
    .toLowerCase();
}
