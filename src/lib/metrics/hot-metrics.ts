import type { Counter } from 'prom-client';

/**
 * Counters and histograms for per-packet paths. prom-client validates and hashes the label values
 * on every `inc` and `observe`, bound children included (lib/counter.js `inc` → `hashObject`,
 * lib/histogram.js `observe`): measured on this project's 2-core machine, 243 ns per Counter
 * inc and 362 ns per Histogram observe, against ~17 µs for a whole query through the DNS front
 * — three of them per answer were 5 % of its CPU.
 *
 * Here a series is a plain object whose numbers the hot path bumps (a few ns); the registry reads
 * them at scrape time, so what `/metrics` shows is exact at every scrape.
 */

export interface HotSeries {
  inc(by?: number): void;
}

/**
 * Series of a prom-client Counter, flushed into it by its `collect` hook: build the Counter with
 * `collect() { flush() }` (capability-metrics.ts `hotCounter` does).
 */
export class HotCounterSeries<T extends string> {
  private readonly all: { readonly labels: Readonly<Record<T, string>>; pending: number }[] = [];

  constructor(private readonly counter: () => Counter<T> | undefined) {}

  /** One series per label set: make it once (not per packet) and keep it. */
  series(labels: Readonly<Record<T, string>>): HotSeries {
    const s = { labels, pending: 0 };
    this.all.push(s);
    return {
      inc(by = 1) {
        s.pending += by;
      },
    };
  }

  /** Moves what the series counted into the Counter (its `collect` hook). */
  flush(): void {
    const c = this.counter();
    if (c === undefined) return;
    for (const s of this.all) {
      if (s.pending === 0) continue;
      c.inc(s.labels, s.pending);
      s.pending = 0;
    }
  }
}

export interface HotHistogramSeries {
  observe(value: number): void;
}

/** What prom-client's Registry reads of a metric (lib/registry.js: `getMetricsAsString`, `getMetricsAsJSON`, `resetMetrics`). */
interface ExportedValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName: string;
  /** Buckets carry prom-client's `exemplar: null` (its JSON has it; the text ignores it). */
  readonly exemplar?: null;
}

/**
 * A histogram whose series count into plain arrays; the registry reads it as it reads a
 * prom-client Histogram (the same `get()` shape: cumulative `_bucket` values with `le`, then
 * `+Inf`, `_sum` and `_count` per series), so `/metrics` cannot tell them apart
 * (test/lib/metrics/hot-metrics.test.ts compares the two expositions).
 */
export class HotHistogram<T extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private readonly all: { readonly labels: Readonly<Record<T, string>>; readonly counts: Float64Array; sum: number; count: number }[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  /** One series per label set: make it once (not per packet) and keep it. */
  series(labels: Readonly<Record<T, string>>): HotHistogramSeries {
    const bounds = this.bounds;
    const s = { labels, counts: new Float64Array(bounds.length), sum: 0, count: 0 };
    this.all.push(s);
    return {
      observe(value) {
        if (!Number.isFinite(value)) return;
        let i = 0;
        while (i < bounds.length && value > (bounds[i] as number)) i++;
        if (i < bounds.length) s.counts[i] = (s.counts[i] as number) + 1;
        s.sum += value;
        s.count++;
      },
    };
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const s of this.all) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ value: acc, labels: { le, ...s.labels }, metricName: `${this.name}_bucket`, exemplar: null });
      });
      values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${this.name}_bucket`, exemplar: null });
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics. */
  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
