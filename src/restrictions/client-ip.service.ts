import { Injectable } from '@nestjs/common';
import { BoundedCache } from '../common/bounded-cache';
import { inRanges, IpRange, parseAddress, parseRange } from '../common/ip';
import { walkForwarded } from '../common/client-address';
import { SettingsService } from '../settings/settings.service';

/** Socket peers whose parsed form and trust are remembered (until the settings change). */
const MAX_REMEMBERED_PEERS = 10_000;

interface Peer {
  address: string;
  trusted: boolean;
}

/**
 * The client's address (docs/architecture.md#a-requests-path, step 1): the socket peer, unless that
 * peer is a trusted proxy; then the forwarding header is walked from the right, skipping trusted
 * proxies, and the first untrusted entry is the client. The left-most entry is never believed for
 * its own sake: a client can write anything there.
 */
@Injectable()
export class ClientIpService {
  private trusted: IpRange[] = [];
  private header = 'x-forwarded-for';
  private peers = new BoundedCache<string, Peer | null>(MAX_REMEMBERED_PEERS);

  constructor(settings: SettingsService) {
    const apply = () => {
      const ip = settings.get().ip;
      this.trusted = ip.trustedProxies.map(parseRange).filter((r): r is IpRange => r !== null);
      this.header = ip.clientIpHeader.toLowerCase();
      this.peers = new BoundedCache<string, Peer | null>(MAX_REMEMBERED_PEERS);
    };
    apply();
    settings.onChange(apply);
  }

  resolve(socketAddress: string, headers: Record<string, string | string[] | undefined>): string {
    const known = this.peer(socketAddress);
    if (!known) return socketAddress;
    if (!known.trusted) return known.address;
    return walkForwarded(headers[this.header], known.address, this.trusted, this.header);
  }

  private peer(socketAddress: string): Peer | null {
    let known = this.peers.get(socketAddress);
    if (known === undefined) {
      const parsed = parseAddress(socketAddress);
      known = parsed
        ? { address: parsed.toString(), trusted: inRanges(parsed, this.trusted) }
        : null;
      this.peers.set(socketAddress, known);
    }
    return known;
  }
}
