import { fetchJson, RemoteCallError } from '../../common/http/fetch-json';

export const INTROSPECTION_TIMEOUT_MS = 3000;
const INTROSPECTION_MAX_BYTES = 64 * 1024;

export interface IntrospectionSettings {
  url: string;
  clientId: string | null;
  clientSecret: string | null;
  allowHttp: boolean;
}

/**
 * RFC 7662 token introspection: POST the token as a form, authenticated with the client's
 * credentials (client_secret_basic, RFC 6749 §2.3.1), and read `active` and the claims. An
 * inactive token is a null answer; an unreachable or misbehaving endpoint an error (503).
 */
export async function introspect(
  token: string,
  settings: IntrospectionSettings,
): Promise<Record<string, unknown> | null> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (settings.clientId !== null) {
    const id = encodeURIComponent(settings.clientId);
    const secret = encodeURIComponent(settings.clientSecret ?? '');
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  }
  const { status, body } = await fetchJson(settings.url, {
    method: 'POST',
    headers,
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    timeoutMs: INTROSPECTION_TIMEOUT_MS,
    maxBytes: INTROSPECTION_MAX_BYTES,
    allowHttp: settings.allowHttp,
  });
  if (status !== 200 || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RemoteCallError('status', `The introspection endpoint answered ${status}`, status);
  }
  const answer = body as Record<string, unknown>;
  // RFC 7662 §2.2: anything but a literal true is inactive.
  return answer.active === true ? answer : null;
}
