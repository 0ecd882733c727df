import { MetricsService } from './metrics.service';

/** The exposition text's sample lines for one metric name. */
async function samples(sut: MetricsService, name: string): Promise<string[]> {
  const text = await sut.registry.metrics();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
}

describe(MetricsService.name, () => {
  let sut: MetricsService;
  beforeEach(() => (sut = new MetricsService()));

  it('counts decisions by credential kind and outcome', async () => {
    sut.decision('basic', 'denied');
    sut.decision('basic', 'denied');
    sut.decision('access', 'allowed');
    const lines = await samples(sut, 'warden_decisions_total');
    expect(lines).toEqual(
      expect.arrayContaining([
        'warden_decisions_total{kind="basic",outcome="denied"} 2',
        'warden_decisions_total{kind="access",outcome="allowed"} 1',
      ]),
    );
  });

  it('observes response times by method, route pattern and status', async () => {
    sut.response('GET', '/admin/users/:id', 200, 0.003);
    sut.response('GET', '/admin/users/:id', 200, 0.2);
    const count = await samples(sut, 'warden_http_request_duration_seconds_count');
    expect(count).toEqual([
      'warden_http_request_duration_seconds_count{method="GET",route="/admin/users/:id",status="200"} 2',
    ]);
    const buckets = await samples(sut, 'warden_http_request_duration_seconds_bucket');
    expect(buckets).toContain(
      'warden_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/admin/users/:id",status="200"} 1',
    );
  });

  it('reads the audit buffer depth when scraped', async () => {
    let depth = 3;
    sut.auditBufferDepth(() => depth);
    expect(await samples(sut, 'warden_audit_buffer_depth')).toEqual([
      'warden_audit_buffer_depth 3',
    ]);
    depth = 0;
    expect(await samples(sut, 'warden_audit_buffer_depth')).toEqual([
      'warden_audit_buffer_depth 0',
    ]);
  });

  it('says whether rate-limit counters are shared', async () => {
    sut.rateLimitShared(true);
    expect(await samples(sut, 'warden_rate_limit_shared')).toEqual(['warden_rate_limit_shared 1']);
    sut.rateLimitShared(false);
    expect(await samples(sut, 'warden_rate_limit_shared')).toEqual(['warden_rate_limit_shared 0']);
  });

  it('counts audit rows flushed, dropped and purged, and when the last purge ended', async () => {
    sut.auditRowsFlushed(5);
    sut.auditRowsFlushed(2);
    sut.auditEventsDropped(1);
    sut.auditPurged(10, 4, 1_800_000_000_000);
    expect(await samples(sut, 'warden_audit_rows_flushed_total')).toEqual([
      'warden_audit_rows_flushed_total 7',
    ]);
    expect(await samples(sut, 'warden_audit_events_dropped_total')).toEqual([
      'warden_audit_events_dropped_total 1',
    ]);
    expect(await samples(sut, 'warden_audit_rows_purged_total')).toEqual([
      'warden_audit_rows_purged_total{reason="age"} 10',
      'warden_audit_rows_purged_total{reason="count"} 4',
    ]);
    expect(await samples(sut, 'warden_audit_last_purge_timestamp_seconds')).toEqual([
      'warden_audit_last_purge_timestamp_seconds 1800000000',
    ]);
  });

  it('keeps the counts of each application apart', async () => {
    const other = new MetricsService();
    other.decision('basic', 'denied');
    expect(await samples(sut, 'warden_decisions_total')).toEqual([]);
    expect(await samples(other, 'warden_decisions_total')).toHaveLength(1);
  });

  it("includes the process's default metrics under the warden_ prefix", async () => {
    expect(await samples(sut, 'warden_process_cpu_user_seconds_total')).toHaveLength(1);
  });
});
