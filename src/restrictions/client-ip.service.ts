import { Injectable } from '@nestjs/common';
import { inRanges, IpRange, parseAddress, parseRange } from '../common/ip';
import { SettingsService } from './settings.service';

/** Header entries considered at most; a longer chain is judged by the socket address. */
const MAX_FORWARDED_ENTRIES = 32;

/**
 * The client's address (DESIGN section 3, step 1): the socket peer, unless that peer is a
 * trusted proxy; then the forwarding header is walked from the right, skipping trusted
 * proxies, and the first untrusted entry is the client. The left-most entry is never believed
 * for its own sake: a client can write anything there.
 */
@Injectable()
export class ClientIpService {
  private trusted: IpRange[] = [];
  private header = 'x-forwarded-for';

  constructor(settings: SettingsService) {
    const apply = () => {
      const ip = settings.get().ip;
      this.trusted = ip.trustedProxies.map(parseRange).filter((r): r is IpRange => r !== null);
      this.header = ip.clientIpHeader.toLowerCase();
    };
    apply();
    settings.onChange(apply);
  }

  resolve(socketAddress: string, headers: Record<string, string | string[] | undefined>): string {
    const peer = parseAddress(socketAddress);
    if (!peer) return socketAddress;
    if (!inRanges(peer, this.trusted)) return peer.toString();
    const raw = headers[this.header];
    if (raw === undefined) return peer.toString();
    const entries = (Array.isArray(raw) ? raw.join(',') : raw).split(',');
    if (entries.length > MAX_FORWARDED_ENTRIES) return peer.toString();
    let client = peer;
    for (let i = entries.length - 1; i >= 0; i--) {
      const address = parseAddress(stripPort(entries[i].trim()));
      // A malformed header is no evidence at all: judge the request by its socket address.
      if (!address) return peer.toString();
      client = address;
      if (!inRanges(address, this.trusted)) return address.toString();
    }
    return client.toString();
  }
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
