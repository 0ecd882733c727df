import type { FastifyInstance, FastifyRequest } from 'fastify';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** No request Warden takes nests JSON anywhere near this deep. */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of objects and arrays in a JSON text (brackets inside strings skipped). */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/**
 * JSON bodies: Fastify's own parser (prototype poisoning refused), after a nesting check, so
 * that a body of a million brackets costs one linear scan and a 400, not a deep recursion.
 */
export function parseJsonBodies(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  const jsonBody = (
    request: FastifyRequest,
    body: string | Buffer,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    const text = body as string;
    if (nestingDepth(text) > MAX_JSON_DEPTH) {
      const err = new Error(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`) as Error & {
        statusCode: number;
      };
      err.statusCode = 400;
      return done(err, undefined);
    }
    // Fastify's default parser is its callback form: it answers through done, with no promise.
    void parseJson(request, text, done);
  };
  const asJson = { parseAs: 'string' as const, bodyLimit: BODY_LIMIT_BYTES };
  fastify.addContentTypeParser('application/json', asJson, jsonBody);
  // RFC 7396: a settings change may say what it is, a JSON merge patch.
  fastify.addContentTypeParser('application/merge-patch+json', asJson, jsonBody);
}
