import { Injectable } from '@nestjs/common';
import { BoundedCache } from '../common/bounded-cache';
import { inRanges, IpRange, parseAddress, parseRange } from '../common/ip';
import { isAdmin, Principal, READ_METHODS } from '../common/principal';
import { Problems } from '../common/problem/domain-error';
import { compilePathPattern, matchesPath, PathPattern } from '../settings/path-pattern';
import { Settings } from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';

export type Openness = 'bypass' | 'public' | 'protected';
/** From the least open to the most. */
const OPENNESS_RANK: Record<Openness, number> = { protected: 0, public: 1, bypass: 2 };

/** Client addresses whose allow-list verdict is remembered. */
const MAX_REMEMBERED_ADDRESSES = 50_000;

interface CompiledRules {
  allow: IpRange[];
  verdicts: BoundedCache<string, boolean>;
  apiAccess: Set<string>;
  readOnly: Set<string>;
  bypass: PathPattern[];
  publicPaths: PathPattern[];
  requireAuthOnPublic: boolean;
}

/**
 * The restriction rules of the settings, compiled once per settings change: group names into
 * sets, address lists into parsed ranges, path globs into regular expressions. Judging a
 * request is then set look-ups and a pass over the lists, with no parsing.
 */
@Injectable()
export class RestrictionsService {
  private rules: CompiledRules;

  constructor(settings: SettingsService) {
    this.rules = compile(settings.get());
    settings.onChange((next) => (this.rules = compile(next)));
  }

  /**
   * Bypass paths skip authentication; public ones too, unless publicApis.requireAuthentication.
   * With `otherPaths` (other readings of the same request), the least open of them all.
   */
  openness(method: string, path: string, otherPaths?: readonly string[]): Openness {
    let openness = this.opennessOf(method, path);
    for (const other of otherPaths ?? []) {
      if (openness === 'protected') break;
      const next = this.opennessOf(method, other);
      if (OPENNESS_RANK[next] < OPENNESS_RANK[openness]) openness = next;
    }
    return openness;
  }

  private opennessOf(method: string, path: string): Openness {
    const { bypass, publicPaths, requireAuthOnPublic } = this.rules;
    if (bypass.length > 0 && matchesPath(bypass, method, path)) return 'bypass';
    if (!requireAuthOnPublic && publicPaths.length > 0 && matchesPath(publicPaths, method, path))
      return 'public';
    return 'protected';
  }

  /**
   * The client address against the allow-list; applies to every caller, administrators included.
   * Verdicts are remembered per address until the settings change, so a long list is walked
   * once per client, not once per request.
   */
  checkAddress(clientIp: string): void {
    const { allow, verdicts } = this.rules;
    if (allow.length === 0) return;
    let allowed = verdicts.get(clientIp);
    if (allowed === undefined) {
      const address = parseAddress(clientIp);
      allowed = address !== null && inRanges(address, allow);
      verdicts.set(clientIp, allowed);
    }
    if (!allowed)
      throw Problems.forbidden('ip_not_allowed', `Requests from ${clientIp} are not allowed`);
  }

  /** Group rules for API use; administrators are never locked out by them. */
  checkGroups(principal: Principal, method: string): void {
    if (isAdmin(principal)) return;
    const { apiAccess, readOnly } = this.rules;
    if (apiAccess.size > 0 && !principal.groups.some((g) => apiAccess.has(g.toLowerCase()))) {
      throw Problems.forbidden(
        'not_in_api_access_group',
        'API access is limited to members of the groups in groups.apiAccess',
      );
    }
    if (
      readOnly.size > 0 &&
      !READ_METHODS.has(method) &&
      principal.groups.some((g) => readOnly.has(g.toLowerCase()))
    ) {
      throw Problems.forbidden(
        'read_only_group',
        'Members of a read-only group may only read (GET, HEAD, OPTIONS)',
      );
    }
  }
}

function compile(settings: Settings): CompiledRules {
  const patterns = (list: string[]) =>
    list.map(compilePathPattern).filter((p): p is PathPattern => p !== null);
  return {
    allow: settings.ip.allow.map(parseRange).filter((r): r is IpRange => r !== null),
    verdicts: new BoundedCache<string, boolean>(MAX_REMEMBERED_ADDRESSES),
    apiAccess: new Set(settings.groups.apiAccess.map((g) => g.toLowerCase())),
    readOnly: new Set(settings.groups.readOnly.map((g) => g.toLowerCase())),
    bypass: patterns(settings.bypass.paths),
    publicPaths: patterns(settings.publicApis.paths),
    requireAuthOnPublic: settings.publicApis.requireAuthentication,
  };
}
