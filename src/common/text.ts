/** A control character (Unicode Cc: C0, DEL, C1): nothing a name, a header or a path may hold. */
export const CONTROL_CHARACTER = /\p{Cc}/u;

/** A non-empty text without control characters, for validation decorators. */
export const WITHOUT_CONTROL_CHARACTERS = /^\P{Cc}+$/u;

/**
 * What no text field takes: NUL (PostgreSQL holds none in text, C strings end there) and half of
 * a UTF-16 surrogate pair on its own (a JSON `\ud800`: no character, text that cannot be
 * encoded as UTF-8, and validators that throw on it rather than answer).
 */
const ILL_FORMED_TEXT = /[\0\p{Cs}]/u;

/** The message a refused field gets, as a validation error. */
export const ILL_FORMED_TEXT_MESSAGE =
  'must be well-formed text: no NUL character and no half of a UTF-16 surrogate pair';

/**
 * The dotted path of the first string (value or key) in a parsed body, query or parameter set
 * that holds ill-formed text, or null when there is none. Parsed JSON is nested
 * MAX_JSON_DEPTH levels at most, so the recursion is bounded.
 */
export function illFormedTextAt(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return ILL_FORMED_TEXT.test(value) ? path : null;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = illFormedTextAt(value[i], path ? `${path}.${i}` : String(i));
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (ILL_FORMED_TEXT.test(key)) return at;
    const found = illFormedTextAt(child, at);
    if (found !== null) return found;
  }
  return null;
}
