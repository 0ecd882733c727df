import { inRanges, IpRange, parseAddress, parseRange } from '../common/ip';
import { CredentialKind } from '../common/principal';
import { Settings } from './settings.defaults';

export interface LockoutSubject {
  ip: string;
  authMethod: CredentialKind;
}

/**
 * What in a new settings document would shut out the admin saving it: their own address
 * missing from a non-empty allow-list, or the credential kind they are using switched off.
 */
export function lockoutReasons(next: Settings, subject: LockoutSubject): string[] {
  const reasons: string[] = [];
  if (next.ip.allow.length > 0) {
    const ranges = next.ip.allow.map(parseRange).filter((r): r is IpRange => r !== null);
    const address = parseAddress(subject.ip);
    if (!address || !inRanges(address, ranges))
      reasons.push(`your address ${subject.ip} is not in ip.allow`);
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
