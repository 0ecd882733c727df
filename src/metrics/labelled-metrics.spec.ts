import { Counter, Histogram, Registry } from 'prom-client';
import { LabelledCounter, LabelledHistogram } from './labelled-metrics';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** The text exposition of one registry, series by series (their order is not the format's). */
async function lines(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter(Boolean).sort();
}

describe('labelled metrics', () => {
  it('render a histogram exactly as prom-client renders the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new LabelledHistogram(
      'latency_seconds',
      'Latency',
      ['method', 'route', 'status'],
      BUCKETS,
      ours,
    );
    const reference = new Histogram({
      name: 'latency_seconds',
      help: 'Latency',
      labelNames: ['method', 'route', 'status'],
      buckets: BUCKETS,
      registers: [theirs],
    });
    // On a bucket's bound (counted in it), between bounds, above the last one, for three sets.
    const observations: [string, string, number, number][] = [
      ['GET', '/a', 200, 0.001],
      ['GET', '/a', 200, 0.0005],
      ['GET', '/a', 200, 0.05],
      ['GET', '/a', 200, 3],
      ['POST', '/a', 201, 0.01],
      ['GET', '/b/:id', 404, 0.2],
    ];
    for (const [method, route, status, seconds] of observations) {
      fast.observe([method, route, status], seconds);
      reference.labels(method, route, String(status)).observe(seconds);
    }
    expect(await lines(ours)).toEqual(await lines(theirs));
    expect(await lines(ours)).toContain(
      'latency_seconds_bucket{le="0.001",method="GET",route="/a",status="200"} 2',
    );
  });

  it('count by label set like a prom-client counter, and reset', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new LabelledCounter('decisions_total', 'Decisions', ['kind', 'outcome'], ours);
    const reference = new Counter({
      name: 'decisions_total',
      help: 'Decisions',
      labelNames: ['kind', 'outcome'],
      registers: [theirs],
    });
    for (const [kind, outcome] of [
      ['access', 'allowed'],
      ['access', 'allowed'],
      ['access', 'denied'],
      ['connect', 'allowed'],
    ]) {
      fast.inc([kind, outcome]);
      reference.labels(kind, outcome).inc();
    }
    expect(await lines(ours)).toEqual(await lines(theirs));
    expect(await lines(ours)).toContain('decisions_total{kind="access",outcome="allowed"} 2');
    ours.resetMetrics();
    expect(await lines(ours)).toEqual([
      '# HELP decisions_total Decisions',
      '# TYPE decisions_total counter',
    ]);
  });

  it('keeps a label set made of a number apart from none, and renders it as text', async () => {
    const ours = new Registry();
    const fast = new LabelledHistogram(
      't_seconds',
      'T',
      ['method', 'route', 'status'],
      BUCKETS,
      ours,
    );
    fast.observe(['GET', '/a', 200], 0.5);
    fast.observe(['GET', '/a', 200], 0.5);
    fast.observe(['GET', '/a', 404], 0.5);
    fast.observe(['GET', '/b', 200], 0.5);
    expect((await lines(ours)).filter((line) => line.startsWith('t_seconds_count'))).toEqual([
      't_seconds_count{method="GET",route="/a",status="200"} 2',
      't_seconds_count{method="GET",route="/a",status="404"} 1',
      't_seconds_count{method="GET",route="/b",status="200"} 1',
    ]);
  });

  it('refuses buckets that do not increase', () => {
    expect(() => new LabelledHistogram('x', 'x', [], [0.1, 0.1], new Registry())).toThrow(
      'buckets must increase',
    );
  });
});
