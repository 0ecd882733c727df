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
  /** At most this many fetches per minute, whatever the kids: a flood of new kids is refused. */
  maxFetchesPerMinute?: number;
}

/** `kid` values become a path segment: a conservative alphabet, no dot segments. */
const KID = /^[A-Za-z0-9._~:-]{1,200}$/;

/**
 * Public keys published one per `kid` (`{base}/{kid}`), as Atlassian does for signed installs
 * and CMJ for its SPI tokens. The `kid` is only ever a look-up key into the configured base
 * URLs (RFC 8725 §3.10 forbids following what a token names). Keys are cached; an unknown
 * `kid` is asked about once, then remembered as unknown for a while, so a flood of made-up
 * kids costs one fetch each per period, and at most 30 fetches a minute are made in all;
 * concurrent requests for one kid share one fetch.
 * A key server that cannot be reached fails closed: the token is refused, nothing is cached.
 */
export class RemoteKeySource {
  private readonly keys: BoundedCache<string, JwsKey>;
  private readonly unknown: BoundedCache<string, true>;
  private readonly inFlight = new Map<string, Promise<JwsKey>>();
  private windowStart = 0;
  private fetchesInWindow = 0;

  constructor(private readonly options: RemoteKeySourceOptions) {
    this.keys = new BoundedCache(options.maxKeys ?? 1000);
    this.unknown = new BoundedCache(10_000);
  }

  async key(kid: string | undefined, now = Date.now()): Promise<JwsKey> {
    if (kid === undefined || !KID.test(kid) || kid === '.' || kid === '..')
      throw new JwtError('unknown_key', 'The token names no usable key id (kid)');
    const cached = this.keys.get(kid, now);
    if (cached) return cached;
    if (this.unknown.get(kid, now)) throw new JwtError('unknown_key', 'Unknown signing key');
    let pending = this.inFlight.get(kid);
    if (!pending) {
      if (now - this.windowStart >= 60_000) {
        this.windowStart = now;
        this.fetchesInWindow = 0;
      }
      if (++this.fetchesInWindow > (this.options.maxFetchesPerMinute ?? 30))
        throw new JwtError(
          'unknown_key',
          'Too many unknown signing keys asked for; try again later',
        );
      pending = this.fetchKey(kid, now).finally(() => this.inFlight.delete(kid));
      this.inFlight.set(kid, pending);
    }
    return pending;
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
