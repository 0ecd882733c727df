import { Injectable } from '@nestjs/common';
import { hash } from 'node:crypto';
import { BoundedCache } from '../common/bounded-cache';
import { Clock } from '../common/clock';
import { MAX_SESSION_CACHE_SECONDS } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';
import { DirectoryService } from './directory/directory.service';
import { CachedUser, toCached } from './directory/user-cache';
import { UpstreamSessionClient } from './upstream-session.client';

/** Bound on remembered cookies; an entry (digest, user id, time) is about 200 bytes. */
const MAX_SESSIONS = 100_000;
/**
 * "No such session" is remembered this long at most: enough to spare the upstream a flood of
 * stale or forged cookies, short enough that a user who has just signed in to the upstream (and
 * whose browser kept the cookie it had) is not turned away for long.
 */
export const NO_SESSION_TTL_MS = 5000;
/** Hex characters of the cookie's digest that name the session (audit, X-Warden-Credential-Id). */
const CREDENTIAL_ID_LENGTH = 16;

/** Whose session a cookie is, as the upstream said at most `upstreamSessions.cacheSeconds` ago. */
export interface SessionOwner {
  /** The cookie's SHA-256 digest (hex): the cache key. */
  key: string;
  userId: string;
  /** A prefix of the digest: names the session in audit rows and headers, and is not the cookie. */
  credentialId: string;
  /** The directory's record, when it was read for this very answer (a cache miss). */
  user?: CachedUser;
}

interface Answer {
  /** Null: the upstream knows no such session. */
  owner: SessionOwner | null;
  /** When the upstream was asked: the answer is not used past `at + cacheSeconds`. */
  at: number;
}

/**
 * The upstream's answers about session cookies, for the decision endpoint, where a browser's
 * every request carries the cookie: a repeat costs a digest and a Map look-up, never the upstream
 * nor the database. Keyed by the SHA-256 of the whole Cookie header (the upstream is asked with
 * all of it, and its answer may depend on any of its cookies); the cache holds no cookie.
 * Concurrent requests with the same cookie share one question to the upstream. An unreachable
 * upstream is never remembered: the next request asks again.
 */
@Injectable()
export class UpstreamSessionCache {
  private readonly answers = new BoundedCache<string, Answer>(MAX_SESSIONS);
  private readonly asking = new Map<string, Promise<SessionOwner | null>>();

  constructor(
    private readonly upstream: UpstreamSessionClient,
    private readonly directory: DirectoryService,
    private readonly settings: SettingsService,
    private readonly clock: Clock,
  ) {
    // No entry lives longer than the largest cacheSeconds: lets the cache drop dead generations.
    this.answers.maxGenerationAgeMs = MAX_SESSION_CACHE_SECONDS * 1000;
  }

  /** The session's owner, or null when the upstream knows no such session; a value when remembered. */
  lookup(cookie: string): SessionOwner | null | Promise<SessionOwner | null> {
    const key = hash('sha256', cookie, 'hex');
    const now = this.clock.now();
    const answer = this.answers.get(key, now);
    // Checked against the setting in force, so that lowering cacheSeconds shortens answers
    // already given too.
    if (answer && now - answer.at < this.settings.get().upstreamSessions.cacheSeconds * 1000)
      return answer.owner;
    let asked = this.asking.get(key);
    if (!asked) {
      asked = this.ask(key, cookie).finally(() => this.asking.delete(key));
      this.asking.set(key, asked);
    }
    return asked;
  }

  /** Forgets a cookie's answer (its user is gone from the directory): the next request asks again. */
  forget(key: string): void {
    this.answers.delete(key);
  }

  private async ask(key: string, cookie: string): Promise<SessionOwner | null> {
    const at = this.clock.now();
    // Throws (503 upstream_unavailable) when the upstream cannot answer: nothing is remembered.
    const username = await this.upstream.whoIs(cookie);
    const ttl = this.settings.get().upstreamSessions.cacheSeconds * 1000;
    if (username === null) {
      const until = at + Math.min(ttl, NO_SESSION_TTL_MS);
      this.answers.set(key, { owner: null, at }, until, this.clock.now());
      return null;
    }
    // Once per cookie and cacheSeconds, not per request: the upstream's user needs a local record
    // (its groups, a stable id for its budget and the audit), added without a password on first
    // sight, as /system/auth does.
    const user = await this.directory.findOrProvision(username);
    const owner = { key, userId: user.id, credentialId: key.slice(0, CREDENTIAL_ID_LENGTH) };
    this.answers.set(key, { owner, at }, at + ttl, this.clock.now());
    return { ...owner, user: toCached(user) };
  }
}
