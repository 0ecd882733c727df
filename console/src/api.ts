/**
 * The admin API as the console uses it. Tokens live in this module's memory only (never in
 * localStorage or sessionStorage): a reload signs the operator out. An expired access token is
 * renewed once at /system/reauth with the refresh token, then the call is repeated.
 */
export interface Problem {
  status: number;
  title?: string;
  detail?: string;
  code?: string;
  errors?: { field: string; messages: string[] }[] | Record<string, string[]>;
  lockout?: string[];
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${problem.status}`);
  }
  get status(): number {
    return this.problem.status;
  }
}

export interface Me {
  username: string;
  groups: string[];
  admin: boolean;
}

let tokens: { authentication: string; refresh: string } | null = null;
let onSignedOut: () => void = () => undefined;

export function whenSignedOut(listener: () => void): void {
  onSignedOut = listener;
}

export async function signIn(username: string, password: string): Promise<Me> {
  const res = await fetch('/system/auth', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new ApiError(await problemOf(res));
  tokens = await res.json();
  const me = await call<{ username: string; groups: string[] }>('GET', '/system/whoami');
  return {
    username: me.body.username,
    groups: me.body.groups,
    admin: me.body.groups.includes('warden-admins'),
  };
}

export async function signOut(): Promise<void> {
  if (tokens) await call('POST', '/system/logout').catch(() => undefined);
  tokens = null;
  onSignedOut();
}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** One API call with the operator's token; throws ApiError with the problem document on 4xx/5xx. */
export async function call<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  let res = await send(method, path, body, headers);
  if (res.status === 401 && tokens && (await renew()))
    res = await send(method, path, body, headers);
  if (res.status === 401 && path !== '/system/logout') {
    tokens = null;
    onSignedOut();
  }
  if (!res.ok) throw new ApiError(await problemOf(res));
  const type = res.headers.get('content-type') ?? '';
  const parsed =
    res.status === 204 ? null : /json/.test(type) ? await res.json() : await res.text();
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/** A download (audit export) with the operator's token, handed to the browser as a file. */
export async function download(path: string, filename: string): Promise<void> {
  let res = await send('GET', path);
  if (res.status === 401 && tokens && (await renew())) res = await send('GET', path);
  if (!res.ok) throw new ApiError(await problemOf(res));
  const url = URL.createObjectURL(await res.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const all: Record<string, string> = { ...headers };
  if (tokens) all.authorization = `Bearer ${tokens.authentication}`;
  if (body !== undefined) all['content-type'] = 'application/json';
  return fetch(path, {
    method,
    headers: all,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

let renewing: Promise<boolean> | null = null;

/** Renews the access token once, whoever asks while it is under way. */
function renew(): Promise<boolean> {
  renewing ??= (async () => {
    try {
      const res = await fetch('/system/reauth', {
        headers: { authorization: `Bearer ${tokens!.refresh}` },
      });
      if (!res.ok) return false;
      const fresh = (await res.json()) as { authentication: string; refresh?: string };
      tokens = { authentication: fresh.authentication, refresh: fresh.refresh ?? tokens!.refresh };
      return true;
    } catch {
      return false;
    } finally {
      setTimeout(() => (renewing = null), 0);
    }
  })();
  return renewing;
}

async function problemOf(res: Response): Promise<Problem> {
  try {
    const body = await res.json();
    return { status: res.status, ...body };
  } catch {
    return { status: res.status, title: res.statusText };
  }
}

/** Field errors of a 400 by dotted field path, whichever of the two shapes the API used. */
export function fieldErrors(problem: Problem): Record<string, string[]> {
  const errors = problem.errors;
  if (!errors) return {};
  if (Array.isArray(errors)) return Object.fromEntries(errors.map((e) => [e.field, e.messages]));
  return errors;
}

export const qs = (params: Record<string, string | number | undefined | null>): string => {
  const entries = Object.entries(params).filter(
    ([, v]) => v !== undefined && v !== null && v !== '',
  );
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
};
