/** Why a call to another party's HTTP endpoint gave no usable answer. */
export class RemoteCallError extends Error {
  constructor(
    readonly reason: 'refused_url' | 'unreachable' | 'status' | 'too_large' | 'not_json',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteCallError';
  }

  /**
   * What went wrong without the other party's address or the network's error codes: for an
   * answer to a caller who may be anyone (the full message is for the operator's log).
   */
  withoutParty(): string {
    switch (this.reason) {
      case 'refused_url':
        return 'its URL is not one Warden may call';
      case 'unreachable':
        return this.message.endsWith('timed out') ? 'it timed out' : 'it did not answer';
      case 'status':
        return this.status === undefined
          ? 'it gave no usable answer'
          : `it answered with status ${this.status}`;
      case 'too_large':
        return 'it answered more than Warden reads';
      case 'not_json':
        return 'it did not answer JSON';
    }
  }
}

export interface FetchJsonOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes: number;
  /** Plain http:// is refused unless this is set. */
  allowHttp: boolean;
}

/**
 * GET or POST to another party (an IdP's JWKS or introspection endpoint) with a timeout, a cap
 * on the body read, no redirects followed, and https only unless allowed: a slow, huge or
 * misdirected answer costs a bounded amount of time and memory.
 */
export async function fetchJson(
  url: string,
  options: FetchJsonOptions,
): Promise<{ status: number; body: unknown }> {
  const { status, text } = await fetchText(url, options);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RemoteCallError('not_json', `${host(url)} did not answer JSON`, status);
  }
  return { status, body };
}

/** fetchJson's rules (timeout, size cap, no redirects, https unless allowed) for a text answer. */
export async function fetchText(
  url: string,
  options: FetchJsonOptions & { accept?: string },
): Promise<{ status: number; text: string }> {
  assertUsableUrl(url, options.allowHttp);
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers: { accept: options.accept ?? 'application/json', ...options.headers },
      body: options.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    throw new RemoteCallError('unreachable', `${host(url)} did not answer: ${describe(err)}`);
  }
  let text: string | null;
  try {
    text = await readCapped(response, options.maxBytes);
  } catch (err) {
    throw new RemoteCallError('unreachable', `${host(url)} broke off: ${describe(err)}`);
  }
  if (text === null) {
    throw new RemoteCallError(
      'too_large',
      `${host(url)} answered more than ${options.maxBytes} bytes`,
      response.status,
    );
  }
  return { status: response.status, text };
}

export function assertUsableUrl(url: string, allowHttp: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RemoteCallError('refused_url', 'The URL is not valid');
  }
  if (parsed.protocol === 'https:' || (allowHttp && parsed.protocol === 'http:')) return;
  throw new RemoteCallError(
    'refused_url',
    `${parsed.protocol}// URLs are refused (https only; WARDEN_IDP_ALLOW_HTTP=true allows http)`,
  );
}

/** The body as text, or null when it exceeds `maxBytes` (reading stops there). */
export async function readCapped(response: Response, maxBytes: number): Promise<string | null> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the server';
  }
}

function describe(err: unknown): string {
  // A timeout arrives as a DOMException, which is not an Error in every Node version.
  const e = err as { name?: string; message?: string; cause?: Record<string, unknown> } | null;
  if (e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError') return 'timed out';
  const detail = e?.cause?.code ?? e?.cause?.message ?? e?.message;
  return typeof detail === 'string' ? detail : String(err);
}
