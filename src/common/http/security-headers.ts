import helmet from 'helmet';

/**
 * The security headers answers carry: helmet's set for the pages of the OpenAPI explorer, with a
 * Content-Security-Policy that
 * lets the OpenAPI explorer at /docs load its own scripts and styles and call this origin, and
 * nothing else, and that no page may frame. They depend on nothing in the request, so they are
 * computed once here (helmet's middleware run against a recording response) and set with one
 * call per answer, instead of running helmet's middleware chain on every request.
 */
export function securityHeaders(): {
  pages: Record<string, string>;
  console: Record<string, string>;
  api: Record<string, string>;
} {
  const recorded: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number | string[]) => {
      recorded[name] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete recorded[name];
    },
    getHeader: (name: string) => recorded[name],
  };
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
      },
    },
  });
  let done = false;
  middleware({} as never, response as never, () => {
    done = true;
  });
  if (!done) throw new Error('helmet did not finish synchronously');
  return {
    pages: recorded,
    // The operator console (/console/): scripts and styles from its own files only, no inline
    // script or style element, no eval; it talks to this origin alone.
    console: {
      ...recorded,
      'Content-Security-Policy': [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
      ].join('; '),
    },
    // JSON answers are never rendered: the headers that only concern documents a browser
    // displays are left out, and the policy allows nothing at all.
    api: {
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
      'Cross-Origin-Resource-Policy': recorded['Cross-Origin-Resource-Policy'],
      'Referrer-Policy': recorded['Referrer-Policy'],
      'Strict-Transport-Security': recorded['Strict-Transport-Security'],
      'X-Content-Type-Options': recorded['X-Content-Type-Options'],
    },
  };
}
