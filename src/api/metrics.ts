// The metrics port (src/metrics.ts) implemented with prom-client, and GET /api/v1/metrics: the
// Prometheus text exposition format, behind the operator token like the rest of the API (a scraper
// sends it: `authorization: { credentials_file: <dataDir>/api-token }` in its scrape config).
// One registry per appliance, not prom-client's global one, so tests can build several.
import type { FastifyPluginAsync } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counter as CounterPort, Histogram as HistogramPort, LabelValues, Metrics } from '../metrics.js';

type PromLabels = Record<string, string | number>;

export class PromMetrics implements Metrics {
  readonly registry = new Registry();

  /** @param processMetrics the Node process's own (CPU, memory, event-loop lag, GC: prom-client's default metrics). */
  constructor(processMetrics = true) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = never>(name: string, help: string, labels: readonly L[] = []): CounterPort<L> {
    const counter = this.existing(name, Counter) ?? new Counter({ name, help, labelNames: [...labels], registers: [this.registry] });
    return { inc: (values?: LabelValues<L>, value = 1) => counter.inc((values ?? {}) as PromLabels, value) };
  }

  histogram<L extends string = never>(name: string, help: string, labels: readonly L[] = [], buckets?: readonly number[]): HistogramPort<L> {
    const histogram = this.existing(name, Histogram) ?? new Histogram({
      name, help, labelNames: [...labels], registers: [this.registry], ...(buckets ? { buckets: [...buckets] } : {}),
    });
    return { observe: (values: LabelValues<L>, value: number) => histogram.observe(values as PromLabels, value) };
  }

  /** The text exposition format and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /** The instrument already registered under `name` (a second DHCP server, a rebuilt app), if it is of this kind. */
  private existing<T>(name: string, kind: abstract new (...args: never[]) => T): T | undefined {
    const metric = this.registry.getSingleMetric(name);
    if (metric === undefined) return undefined;
    if (!(metric instanceof kind)) throw new TypeError(`metric ${name} is already registered as another kind`);
    return metric;
  }
}

export interface MetricsRouteDeps {
  readonly metrics: Pick<PromMetrics, 'exposition'>;
}

/** GET /metrics (under /api/v1): what Prometheus scrapes. */
export const metricsRoutes: FastifyPluginAsync<MetricsRouteDeps> = async (app, deps) => {
  app.get('/metrics', { schema: { description: 'Prometheus metrics (text exposition format)' } }, async (_request, reply) => {
    const { contentType, text } = await deps.metrics.exposition();
    return reply.type(contentType).header('cache-control', 'no-store').send(text);
  });
};
