import type { Registry } from 'prom-client';

/** What a prom-client Registry asks of a metric when it renders or merges (its `get()`). */
interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface RenderedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

interface Series<T> {
  labels: Record<string, string>;
  data: T;
}

/** A label's value as a caller has it at hand: a status stays a number, not made a string. */
export type LabelValue = string | number;

/** One label's values, each to the next label's values or, for the last label, to the series. */
type Level<T> = Map<LabelValue, Level<T> | Series<T>>;

/**
 * The per-request metrics, counted without prom-client's own bookkeeping: prom-client hashes
 * the label values of every observation, even through a child from `labels()` (about 2 µs a
 * request here, for two metrics). Here a label set's series is made once, on its first use, and
 * found after that by one Map look-up per label value, with no key built (no concatenation, no
 * number made a string); counting is an array increment, and the registry renders them like its
 * own metrics. Label sets must stay few (routes, methods, statuses, kinds).
 */
abstract class LabelledMetric<T> {
  private readonly byValue: Level<T> = new Map();
  /** Every series, in the order they were made (the order they are rendered in). */
  private readonly series: Series<T>[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // Registry.registerMetric takes any object with a name and get(); the parameter's type is
    // prom-client's own Metric class.
    registry.registerMetric(this as never);
  }

  /** The series of one label set, values in the order of the label names; made on first use. */
  protected seriesFor(values: readonly LabelValue[]): T {
    const last = this.labelNames.length - 1;
    let level = this.byValue;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]) as Level<T> | undefined;
      if (!next) level.set(values[i], (next = new Map()));
      level = next;
    }
    const found = level.get(values[last]) as Series<T> | undefined;
    if (found) return found.data;
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => (labels[name] = String(values[i])));
    const series = { labels, data: this.empty() };
    level.set(values[last], series);
    this.series.push(series);
    return series.data;
  }

  protected abstract empty(): T;
  protected abstract type: RenderedMetric['type'];
  protected abstract render(series: Series<T>): MetricValue[];

  get(): Promise<RenderedMetric> {
    const values: MetricValue[] = [];
    for (const series of this.series) values.push(...this.render(series));
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: 'sum',
    });
  }

  reset(): void {
    this.byValue.clear();
    this.series.length = 0;
  }
}

export class LabelledCounter extends LabelledMetric<{ value: number }> {
  protected readonly type = 'counter' as const;

  inc(values: readonly LabelValue[]): void {
    this.seriesFor(values).value++;
  }

  protected empty(): { value: number } {
    return { value: 0 };
  }

  protected render(series: Series<{ value: number }>): MetricValue[] {
    return [{ labels: series.labels, value: series.data.value }];
  }
}

interface Buckets {
  /** counts[i]: observations ≤ bounds[i] and > bounds[i - 1]; the last slot is above them all. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class LabelledHistogram extends LabelledMetric<Buckets> {
  protected readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    for (let i = 1; i < bounds.length; i++)
      if (!(bounds[i] > bounds[i - 1])) throw new Error(`${name}: buckets must increase`);
  }

  observe(values: readonly LabelValue[], value: number): void {
    const buckets = this.seriesFor(values);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    buckets.counts[i]++;
    buckets.sum += value;
    buckets.count++;
  }

  protected empty(): Buckets {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  /** Prometheus' cumulative buckets (`le`), then +Inf, `_sum` and `_count`. */
  protected render({ labels, data }: Series<Buckets>): MetricValue[] {
    const values: MetricValue[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += data.counts[i];
      values.push({
        labels: { le: bound, ...labels },
        value: cumulative,
        metricName: `${this.name}_bucket`,
      });
    });
    values.push({
      labels: { le: '+Inf', ...labels },
      value: data.count,
      metricName: `${this.name}_bucket`,
    });
    values.push({ labels, value: data.sum, metricName: `${this.name}_sum` });
    values.push({ labels, value: data.count, metricName: `${this.name}_count` });
    return values;
  }
}
