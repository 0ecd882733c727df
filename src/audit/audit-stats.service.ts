import { Injectable } from '@nestjs/common';
import { Problems } from '../common/problem/domain-error';
import { AuditRepository } from './audit.repository';

export type StatsBucketSize = 'minute' | 'hour' | 'day';

export const BUCKET_MS: Record<StatsBucketSize, number> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};
/** What a range defaults to, per bucket size: the console's last hour, day and week. */
const DEFAULT_SPAN_MS: Record<StatsBucketSize, number> = {
  minute: 3_600_000,
  hour: 86_400_000,
  day: 7 * 86_400_000,
};
/** A chart has no use for more points; a bigger range asks for a bigger bucket. */
export const MAX_BUCKETS = 2000;
const TOP_REASONS = 10;
const TOP_CALLERS = 10;
/** Denials of the rate limits: charted on their own, as operators look for them. */
const RATE_LIMIT_REASONS = new Set(['rate_limited', 'login_rate_limited']);

export interface StatsQuery {
  from?: Date;
  to?: Date;
  bucket: StatsBucketSize;
  /** Only this actor's events (a non-administrator sees only their own). */
  actor?: string;
}

export interface StatsCounts {
  allowed: number;
  denied: number;
  rateLimited: number;
  /** Failed security events: sign-ins, refreshes. */
  failed: number;
  /** Successful security events (sign-ins, changes). */
  other: number;
}

export interface StatsBucket extends StatsCounts {
  at: string;
}

export interface AuditStats {
  from: string;
  to: string;
  bucket: StatsBucketSize;
  actor: string | null;
  buckets: StatsBucket[];
  totals: StatsCounts;
  topReasons: { reason: string; count: number }[];
}

/** The audit log counted over time for the console's charts (GET /admin/audit/stats). */
@Injectable()
export class AuditStatsService {
  constructor(private readonly repository: AuditRepository) {}

  async stats(query: StatsQuery): Promise<AuditStats> {
    const size = BUCKET_MS[query.bucket];
    const { from, to } = rangeOf(query.from, query.to, DEFAULT_SPAN_MS[query.bucket]);
    const first = Math.floor(from.getTime() / size) * size;
    const last = Math.floor((to.getTime() - 1) / size) * size;
    if ((last - first) / size + 1 > MAX_BUCKETS)
      throw Problems.invalidField(
        'bucket',
        `the range holds more than ${MAX_BUCKETS} ${query.bucket} buckets; use a larger bucket`,
      );
    const rows = await this.repository.countByBucket(from, to, size, query.actor);
    const buckets = new Map<number, StatsBucket>();
    for (let at = first; at <= last; at += size)
      buckets.set(at, { at: new Date(at).toISOString(), ...zero() });
    const totals = zero();
    const reasons = new Map<string, number>();
    for (const row of rows) {
      const key = seriesOf(row.outcome, row.reason);
      const bucket = buckets.get(row.bucket);
      if (bucket) bucket[key] += row.count;
      totals[key] += row.count;
      if (row.reason && row.outcome !== 'allowed' && row.outcome !== 'success')
        reasons.set(row.reason, (reasons.get(row.reason) ?? 0) + row.count);
    }
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      bucket: query.bucket,
      actor: query.actor ?? null,
      buckets: [...buckets.values()],
      totals,
      topReasons: [...reasons]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
        .slice(0, TOP_REASONS),
    };
  }

  /** The actors with the most events in the range (default: the last hour). */
  topCallers(query: { from?: Date; to?: Date }): Promise<{ actor: string; count: number }[]> {
    const { from, to } = rangeOf(query.from, query.to, DEFAULT_SPAN_MS.minute);
    return this.repository.topActors(from, to, TOP_CALLERS);
  }
}

function rangeOf(
  from: Date | undefined,
  to: Date | undefined,
  span: number,
): { from: Date; to: Date } {
  const end = to ?? new Date();
  const start = from ?? new Date(end.getTime() - span);
  if (start.getTime() >= end.getTime())
    throw Problems.invalidField('from', 'from must be before to');
  return { from: start, to: end };
}

function seriesOf(outcome: string, reason: string | null): keyof StatsCounts {
  switch (outcome) {
    case 'allowed':
      return 'allowed';
    case 'denied':
      return reason && RATE_LIMIT_REASONS.has(reason) ? 'rateLimited' : 'denied';
    case 'failure':
      return 'failed';
    default:
      return 'other';
  }
}

function zero(): StatsCounts {
  return { allowed: 0, denied: 0, rateLimited: 0, failed: 0, other: 0 };
}
