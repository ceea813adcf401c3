// The metrics port (code review 2026-12 item 9): what the protocol servers count, without knowing who
// collects it. The servers take a Metrics next to their `events` and make their instruments once at
// start, the way tinkerbell/smee declares its counters in internal/metric and bumps them in each
// handler; src/api/metrics.ts implements the port with prom-client and serves it to Prometheus.
// Label values must come from small closed sets (message types, outcomes, route patterns), never
// from a client: every distinct value is a time series kept for the life of the process.

/** Label values by label name; names not given are exported empty. */
export type LabelValues<L extends string> = Readonly<Partial<Record<L, string | number>>>;

export interface Counter<L extends string = string> {
  /** Adds `value` (default 1) to the series of these labels. */
  inc(labels?: LabelValues<L>, value?: number): void;
}

export interface Histogram<L extends string = string> {
  /** Records one observation (seconds for durations, octets for sizes). */
  observe(labels: LabelValues<L>, value: number): void;
}

export interface Metrics {
  /** A monotonic counter. The same name twice returns the same instrument (two servers, one registry). */
  counter<L extends string = never>(name: string, help: string, labels?: readonly L[]): Counter<L>;
  /** A histogram with the given bucket bounds (defaults: the implementation's). */
  histogram<L extends string = never>(name: string, help: string, labels?: readonly L[], buckets?: readonly number[]): Histogram<L>;
}

const noCounter: Counter<never> = { inc: () => undefined };
const noHistogram: Histogram<never> = { observe: () => undefined };

/** The default: counts nothing (tests, tools, and servers started without a registry). */
export const noMetrics: Metrics = {
  counter: () => noCounter,
  histogram: () => noHistogram,
};

/** Bucket bounds in seconds for request and transfer durations: 5 ms to 5 min. */
export const durationBuckets: readonly number[] = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 60, 300];
