import { Counter, Gauge, Histogram, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type Metric, type Registry } from 'prom-client';
import { HotCounterSeries, HotHistogram } from './hot-metrics.js';

/** Every metric the daemon exports starts with this (process and Node.js metrics included). */
export const METRIC_PREFIX = 'unbound_sidecar_';

/** prom-client's configuration with the short name (`queries_total`); the registry is the capability's. */
type ShortConfig<C> = Omit<C, 'registers'>;

/**
 * Metric factories bound to one capability's namespace and the injected registry (each test builds
 * a fresh one). Labels are typed as with prom-client: `labelNames: ['list'] as const` gives a
 * `Counter<'list'>`.
 */
export interface CapabilityMetrics {
  /** `unbound_sidecar_<namespace>_`, what every name made here starts with. */
  readonly prefix: string;
  counter<T extends string>(config: ShortConfig<CounterConfiguration<T>>): Counter<T>;
  gauge<T extends string>(config: ShortConfig<GaugeConfiguration<T>>): Gauge<T>;
  histogram<T extends string>(config: ShortConfig<HistogramConfiguration<T>>): Histogram<T>;
  /** A Counter for per-packet paths: its series are plain numbers, moved into it at scrape time (hot-metrics.ts). */
  hotCounter<T extends string>(config: { readonly name: string; readonly help: string; readonly labelNames?: readonly T[] }): HotCounterSeries<T>;
  /** A histogram for per-packet paths (hot-metrics.ts), exported like prom-client's. */
  hotHistogram<T extends string>(config: { readonly name: string; readonly help: string; readonly labelNames?: readonly T[]; readonly buckets: readonly number[] }): HotHistogram<T>;
}

/**
 * Factories that name a metric `unbound_sidecar_<namespace>_<short name>`, the way mosdns gives each
 * plugin a Registerer wrapped with its plugin type (https://github.com/IrineSistiana/mosdns,
 * plugin/executable/cache/cache.go: `prometheus.WrapRegistererWithPrefix(PluginType+"_",
 * bp.M().GetMetricsReg())`, itself prefixed `mosdns_`). The namespace is the capability folder with
 * `-` as `_` (`dns_front`); the few older names outside that rule are listed in the metric-name lint.
 */
export function capabilityMetrics(registry: Registry, namespace: string): CapabilityMetrics {
  if (!/^[a-z][a-z0-9_]*[a-z0-9]$/.test(namespace)) throw new Error(`metric namespace ${JSON.stringify(namespace)} is not snake_case`);
  const prefix = `${METRIC_PREFIX}${namespace}_`;
  const registers = [registry];
  return {
    prefix,
    counter: (config) => new Counter({ ...config, name: prefix + config.name, registers }),
    gauge: (config) => new Gauge({ ...config, name: prefix + config.name, registers }),
    histogram: (config) => new Histogram({ ...config, name: prefix + config.name, registers }),
    hotCounter<T extends string>(config: { readonly name: string; readonly help: string; readonly labelNames?: readonly T[] }) {
      let counter: Counter<T> | undefined;
      const hot = new HotCounterSeries<T>(() => counter);
      counter = new Counter<T>({
        name: prefix + config.name,
        help: config.help,
        labelNames: config.labelNames ?? [],
        registers,
        collect() {
          hot.flush();
        },
      });
      return hot;
    },
    hotHistogram<T extends string>(config: { readonly name: string; readonly help: string; readonly labelNames?: readonly T[]; readonly buckets: readonly number[] }) {
      const h = new HotHistogram<T>(prefix + config.name, config.help, config.buckets);
      // The registry calls only name, get() and reset() (prom-client lib/registry.js), which
      // HotHistogram has with the shapes Histogram's have; its type names the four built-in classes.
      registry.registerMetric(h as unknown as Metric);
      return h;
    },
  };
}
