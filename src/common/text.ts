/** A control character (Unicode Cc: C0, DEL, C1): nothing a name, a header or a path may hold. */
export const CONTROL_CHARACTER = /\p{Cc}/u;

/** A non-empty text without control characters, for validation decorators. */
export const WITHOUT_CONTROL_CHARACTERS = /^\P{Cc}+$/u;
