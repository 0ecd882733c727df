import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { LabelledCounter, LabelledHistogram } from './labelled-metrics';

/**
 * The Prometheus metrics of docs/operations.md#health-metrics-and-logs, on a registry of this
 * application's own (two applications in one process, as in the tests, keep separate counts). The
 * two counted on every request (decisions, latency) are labelled-metrics.ts's: a Map look-up per
 * label value and an increment each, no key built.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly decisions = new LabelledCounter(
    'warden_decisions_total',
    'Access decisions, by credential kind and outcome',
    ['kind', 'outcome'],
    this.registry,
  );
  private readonly latency = new LabelledHistogram(
    'warden_http_request_duration_seconds',
    'Time from request to response, by method, route and status',
    ['method', 'route', 'status'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    this.registry,
  );
  private readonly auditFlushed = new Counter({
    name: 'warden_audit_rows_flushed_total',
    help: 'Audit rows written to the database',
    registers: [this.registry],
  });
  private readonly auditDropped = new Counter({
    name: 'warden_audit_events_dropped_total',
    help: 'Audit events that could not be stored (buffer full, or refused by the database and logged instead)',
    registers: [this.registry],
  });
  private readonly lastPurge = new Gauge({
    name: 'warden_audit_last_purge_timestamp_seconds',
    help: 'When the audit retention job last finished (Unix time)',
    registers: [this.registry],
  });
  private readonly purged = new Counter({
    name: 'warden_audit_rows_purged_total',
    help: 'Audit rows deleted by the retention job, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly sharedLimits = new Gauge({
    name: 'warden_rate_limit_shared',
    help: '1 while rate-limit counters are shared through Redis (it has answered), 0 while this instance counts alone (Redis not configured, not reached yet, or unreachable)',
    registers: [this.registry],
  });
  private bufferDepthSource: () => number = () => 0;

  constructor() {
    const depth = (): number => this.bufferDepthSource();
    new Gauge({
      name: 'warden_audit_buffer_depth',
      help: 'Audit events waiting in memory to be written',
      registers: [this.registry],
      collect() {
        this.set(depth());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'warden_' });
  }

  decision(kind: string, outcome: 'allowed' | 'denied'): void {
    this.decisions.inc([kind, outcome]);
  }

  /** `route` is the route's pattern (bounded), never the raw URL. */
  response(method: string, route: string, status: number, seconds: number): void {
    this.latency.observe([method, route, status], seconds);
  }

  auditBufferDepth(source: () => number): void {
    this.bufferDepthSource = source;
  }

  rateLimitShared(shared: boolean): void {
    this.sharedLimits.set(shared ? 1 : 0);
  }

  auditRowsFlushed(count: number): void {
    this.auditFlushed.inc(count);
  }

  auditEventsDropped(count: number): void {
    this.auditDropped.inc(count);
  }

  auditPurged(byAge: number, byCount: number, finishedAt: number): void {
    this.purged.labels('age').inc(byAge);
    this.purged.labels('count').inc(byCount);
    this.lastPurge.set(finishedAt / 1000);
  }
}
