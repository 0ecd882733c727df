import { inRanges, IpRange, parseAddress, parseRange } from './ip';

/**
 * Header entries walked at most, from the right. Entries a client wrote itself sit on the left,
 * beyond the ones its proxies appended: padding the header never moves the walk's start. A
 * chain whose right-most entries are all trusted proxies is judged by the socket address.
 */
const MAX_FORWARDED_ENTRIES = 32;
/** The `ip` settings the walk reads: which peers are proxies, and the header they write. */
export interface ForwardingSettings {
  trustedProxies: readonly string[];
  clientIpHeader: string;
}

/**
 * The client's address under the given `ip` settings (not necessarily those in force): what a
 * settings change would make of a request, for the lock-out check.
 */
export function clientAddressUnder(
  ip: ForwardingSettings,
  socketAddress: string,
  headers: Record<string, string | string[] | undefined>,
): string {
  const peer = parseAddress(socketAddress);
  if (!peer) return socketAddress;
  const trusted = ip.trustedProxies.map(parseRange).filter((r): r is IpRange => r !== null);
  if (!inRanges(peer, trusted)) return peer.toString();
  const header = ip.clientIpHeader.toLowerCase();
  return walkForwarded(headers[header], peer.toString(), trusted, header);
}

/**
 * Walks a forwarding header from the right, from a trusted peer (`peer`), skipping trusted
 * proxies: the first untrusted entry is the client.
 */
export function walkForwarded(
  raw: string | string[] | undefined,
  peer: string,
  trusted: IpRange[],
  header: string,
): string {
  if (raw === undefined) return peer;
  let entries = (Array.isArray(raw) ? raw.join(',') : raw).split(',');
  if (header === 'forwarded') entries = entries.map(forwardedFor);
  const last = Math.max(0, entries.length - MAX_FORWARDED_ENTRIES);
  let client = peer;
  for (let i = entries.length - 1; i >= last; i--) {
    const address = parseAddress(stripPort(entries[i].trim()));
    // A malformed header is no evidence at all: judge the request by its socket address.
    if (!address) return peer;
    client = address.toString();
    if (!inRanges(address, trusted)) return client;
  }
  // Every entry walked was a trusted proxy: the chain is all proxies (the left-most entry is
  // one too), or longer than the walk, whose remaining entries prove nothing.
  return last === 0 ? client : peer;
}

/**
 * RFC 7239: the `for` parameter of one `Forwarded` element (`for=192.0.2.60;proto=https`,
 * `for="[2001:db8::1]:4711"`). An element without one, or with an obfuscated or `unknown` node,
 * gives no address, which the walk treats as a malformed header.
 */
function forwardedFor(element: string): string {
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
    const value = pair.slice(eq + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
      ? value.slice(1, -1)
      : value;
  }
  return '';
}

/** `[2001:db8::1]:443` or `203.0.113.7:5000` as some proxies write them. */
function stripPort(entry: string): string {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    return end === -1 ? entry : entry.slice(1, end);
  }
  const colon = entry.indexOf(':');
  return colon !== -1 && colon === entry.lastIndexOf(':') ? entry.slice(0, colon) : entry;
}
