import { inRanges, IpRange, parseAddress, parseRange } from '../common/ip';
import { CredentialKind } from '../common/principal';
import { clientAddressUnder } from '../common/client-address';
import { Settings } from './settings.defaults';

export interface LockoutSubject {
  /** The admin's request as it reached Warden: the address is worked out under the new settings. */
  socketAddress: string;
  headers: Record<string, string | string[] | undefined>;
  authMethod: CredentialKind;
}

/**
 * What in a new settings document would shut out the admin saving it: their own address, as the
 * new settings would work it out (trusted proxies, forwarding header), missing from a non-empty
 * allow-list, or the credential kind they are using switched off.
 */
export function lockoutReasons(next: Settings, subject: LockoutSubject): string[] {
  const reasons: string[] = [];
  if (next.ip.allow.length > 0) {
    const ranges = next.ip.allow.map(parseRange).filter((r): r is IpRange => r !== null);
    const ip = clientAddressUnder(next.ip, subject.socketAddress, subject.headers);
    const address = parseAddress(ip);
    if (!address || !inRanges(address, ranges))
      reasons.push(`your address ${ip} is not in ip.allow`);
  }
  if (!next.basicAuth.enabled && subject.authMethod === 'basic') {
    reasons.push(
      'you are signed in with a password over Basic, which basicAuth.enabled=false refuses on API calls',
    );
  }
  if (!next.apiTokens.enabled && subject.authMethod === 'api-token') {
    reasons.push('you are signed in with an API token, which apiTokens.enabled=false refuses');
  }
  return reasons;
}
