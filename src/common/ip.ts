import ipaddr from 'ipaddr.js';

export type IpRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** An address, or a CIDR range, as ipaddr.js parses them (no hand-written parsing). */
export function isValidIpOrCidr(value: string): boolean {
  return parseRange(value) !== null;
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or range; IPv4-mapped IPv6 becomes IPv4. */
export function parseRange(value: string): IpRange | null {
  const text = value.trim();
  if (!plainForm(text.split('/')[0])) return null;
  try {
    if (text.includes('/')) {
      const [address, bits] = ipaddr.parseCIDR(text);
      return normalizeRange(address, bits);
    }
    const address = normalize(ipaddr.parse(text));
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return null;
  }
}

export function parseAddress(value: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const text = value.trim();
  if (!plainForm(text)) return null;
  try {
    return normalize(ipaddr.parse(text));
  } catch {
    return null;
  }
}

/** True when the address lies in any of the ranges (compared within the same family). */
export function inRanges(address: ipaddr.IPv4 | ipaddr.IPv6, ranges: IpRange[]): boolean {
  return ranges.some(
    ([net, bits]) => net.kind() === address.kind() && address.match(net as never, bits),
  );
}

/**
 * IPv4 only in its four-part decimal form: ipaddr.js also takes inet_aton shorthands, where
 * `10/8` means 0.0.0.10/8 and `010.0.0.1` is octal — not what an operator writing a list means.
 */
function plainForm(address: string): boolean {
  return address.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(address);
}

function normalize(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

function normalizeRange(address: ipaddr.IPv4 | ipaddr.IPv6, bits: number): IpRange {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [address, bits];
}
