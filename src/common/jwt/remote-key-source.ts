import { KeyObject } from 'node:crypto';
import { BoundedCache } from '../bounded-cache';
import { fetchText, RemoteCallError } from '../http/fetch-json';
import { assertKeyFits, JwsAlgorithm, JwsKey, JwtError } from './jws';

export interface RemoteKeySourceOptions {
  /** Base URLs asked in turn for `{base}/{kid}`; a later one only when an earlier one fails. */
  baseUrls: string[];
  /** Turns the answer's text into a public key; throws when it is not one. */
  parse: (text: string) => KeyObject;
  /** The one algorithm these keys are for (the token's header must name it). */
  alg: JwsAlgorithm;
  allowHttp: boolean;
  accept?: string;
  timeoutMs?: number;
  maxBytes?: number;
  /** Keys are published under a kid for good; a fetched key is kept this long. */
  keyTtlMs?: number;
  /** A kid every server answered 404 for is not asked about again for this long. */
  unknownTtlMs?: number;
  maxKeys?: number;
  /**
   * Fetches per minute for kids no key server has answered with a key before: at most this many
   * in all (the key servers' protection)…
   */
  maxFetchesPerMinute?: number;
  /** …and at most this many for one caller (by address), so that one cannot spend them all. */
  maxFetchesPerCallerPerMinute?: number;
}

/** How long a kid a key server answered for is remembered as genuine (its refetches are free). */
const ANSWERED_KID_TTL_MS = 30 * 24 * 3_600_000;

/** `kid` values become a path segment: a conservative alphabet, no dot segments. */
const KID = /^[A-Za-z0-9._~:-]{1,200}$/;

/**
 * Public keys published one per `kid` (`{base}/{kid}`), as Atlassian does for signed installs
 * and CMJ for its SPI tokens. The `kid` is only ever a look-up key into the configured base
 * URLs (RFC 8725 §3.10 forbids following what a token names). Keys are cached; an unknown
 * `kid` is asked about once, then remembered as unknown for a while, so a flood of made-up
 * kids costs one fetch each per period. Fetches for kids never answered before are budgeted:
 * 10 a minute per caller and 120 in all, so a caller making up kids spends its own budget, not
 * the one CMJ or Atlassian need when they rotate keys; a kid once answered is fetched again when
 * its cache entry expires whatever the budgets. Concurrent requests for one kid share one fetch.
 * A key server that cannot be reached fails closed: the token is refused, nothing is cached.
 */
export class RemoteKeySource {
  private readonly keys: BoundedCache<string, JwsKey>;
  private readonly unknown: BoundedCache<string, true>;
  private readonly inFlight = new Map<string, Promise<JwsKey>>();
  /** Kids a key server answered with a key: genuine, so never refused for the budgets. */
  private readonly answered: BoundedCache<string, true>;
  /** Fetches each caller made in its current minute. */
  private readonly callers = new BoundedCache<string, { count: number }>(10_000);
  private windowStart = 0;
  private fetchesInWindow = 0;

  constructor(private readonly options: RemoteKeySourceOptions) {
    this.keys = new BoundedCache(options.maxKeys ?? 1000);
    this.answered = new BoundedCache(options.maxKeys ?? 1000);
    this.unknown = new BoundedCache(10_000);
  }

  /** The key for `kid`; `caller` (the client's address) is charged when it has to be fetched. */
  async key(kid: string | undefined, now = Date.now(), caller = ''): Promise<JwsKey> {
    if (kid === undefined || !KID.test(kid) || kid === '.' || kid === '..')
      throw new JwtError('unknown_key', 'The token names no usable key id (kid)');
    const cached = this.keys.get(kid, now);
    if (cached) return cached;
    if (this.unknown.get(kid, now)) throw new JwtError('unknown_key', 'Unknown signing key');
    let pending = this.inFlight.get(kid);
    if (!pending) {
      if (!this.answered.get(kid, now)) this.spend(caller, now);
      pending = this.fetchKey(kid, now).finally(() => this.inFlight.delete(kid));
      this.inFlight.set(kid, pending);
    }
    return pending;
  }

  private spend(caller: string, now: number): void {
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.fetchesInWindow = 0;
    }
    let mine = this.callers.get(caller, now);
    if (!mine) {
      mine = { count: 0 };
      this.callers.set(caller, mine, now + 60_000, now);
    }
    if (
      mine.count >= (this.options.maxFetchesPerCallerPerMinute ?? 10) ||
      this.fetchesInWindow >= (this.options.maxFetchesPerMinute ?? 120)
    )
      throw new JwtError('unknown_key', 'Too many unknown signing keys asked for; try again later');
    mine.count++;
    this.fetchesInWindow++;
  }

  private async fetchKey(kid: string, now: number): Promise<JwsKey> {
    let notFound = 0;
    let lastProblem = '';
    for (const base of this.options.baseUrls) {
      try {
        const { status, text } = await fetchText(`${base}/${encodeURIComponent(kid)}`, {
          timeoutMs: this.options.timeoutMs ?? 3000,
          maxBytes: this.options.maxBytes ?? 16 * 1024,
          allowHttp: this.options.allowHttp,
          accept: this.options.accept,
        });
        if (status === 404) {
          notFound++;
          continue;
        }
        if (status !== 200) {
          lastProblem = `the key server answered ${status}`;
          continue;
        }
        const key: JwsKey = { alg: this.options.alg, key: this.options.parse(text), kid };
        assertKeyFits(key, 'verify');
        this.keys.set(kid, key, now + (this.options.keyTtlMs ?? 24 * 3_600_000));
        this.answered.set(kid, true, now + ANSWERED_KID_TTL_MS, now);
        return key;
      } catch (err) {
        // The detail reaches anonymous callers: no host names or network errors in it.
        lastProblem =
          err instanceof RemoteCallError
            ? 'the key server could not be reached'
            : 'the key server answered no usable key';
      }
    }
    if (notFound === this.options.baseUrls.length) {
      this.unknown.set(kid, true, now + (this.options.unknownTtlMs ?? 60_000));
      throw new JwtError('unknown_key', 'Unknown signing key');
    }
    throw new JwtError('unknown_key', `The signing key could not be fetched: ${lastProblem}`);
  }
}
