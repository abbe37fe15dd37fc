import { Counter, Gauge, Histogram, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type Registry } from 'prom-client';

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
  };
}
