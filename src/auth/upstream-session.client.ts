import { Inject, Injectable, Logger } from '@nestjs/common';
import { readCapped } from '../common/http/fetch-json';
import { Problems } from '../common/problem/domain-error';
import { CONTROL_CHARACTER } from '../common/text';
import { WARDEN_CONFIG, WardenConfig } from '../config/warden-config';

const TIMEOUT_MS = 5000;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_COOKIE_LENGTH = 8192;

/**
 * Asks the upstream Jira / Confluence who owns a session cookie
 * (`GET /rest/auth/1/session`, answered with `{"name": "<username>", …}` or 401).
 */
@Injectable()
export class UpstreamSessionClient {
  private readonly logger = new Logger(UpstreamSessionClient.name);

  constructor(@Inject(WARDEN_CONFIG) private readonly config: WardenConfig) {}

  get enabled(): boolean {
    return this.config.upstreamBaseUrl !== undefined;
  }

  /** The username behind the cookie, or null when the upstream does not know the session. */
  async whoIs(cookie: string): Promise<string | null> {
    if (!this.config.upstreamBaseUrl || cookie.length > MAX_COOKIE_LENGTH) return null;
    let response: Response;
    try {
      response = await fetch(`${this.config.upstreamBaseUrl}/rest/auth/1/session`, {
        headers: { cookie, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'Upstream session check failed');
      throw Problems.unavailable(
        'The upstream product could not be reached to check the session',
        'upstream_unavailable',
      );
    }
    // 401 and 403 say "no session"; so does a redirect, which is how a product behind single
    // sign-on sends a caller without one to its login page.
    if (response.status === 401 || response.status === 403 || isRedirect(response.status)) {
      await response.body?.cancel();
      return null;
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw Problems.unavailable(
        `The upstream product answered ${response.status} to the session check`,
        'upstream_unavailable',
      );
    }
    let text: string | null;
    try {
      // The timeout holds for the body too: an answer that stalls or breaks off half-way is the
      // upstream failing, as much as one that never came.
      text = await readCapped(response, MAX_BODY_BYTES);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'Upstream session answer broke off');
      throw Problems.unavailable(
        'The upstream product broke off its answer to the session check',
        'upstream_unavailable',
      );
    }
    try {
      const body = JSON.parse(text ?? '') as { name?: unknown };
      // A name with control characters is no user Warden can hold (nor put in a header).
      return typeof body.name === 'string' &&
        body.name.length > 0 &&
        body.name.length <= 255 &&
        !CONTROL_CHARACTER.test(body.name)
        ? body.name
        : null;
    } catch {
      return null;
    }
  }
}

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}
