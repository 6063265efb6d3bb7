// metrics.ts: the server's Prometheus metrics, in a registry of its own (two servers in one process
// do not clash), fed by the front ends (requests) and by the pools' diagnostics_channel events.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { POOL_CHANNEL, type PoolRunEvent, type PoolStats } from '../index.js';

const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256];

interface Labels {
  model: string;
  version: string;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #success: Counter<'model' | 'version' | 'protocol'>;
  readonly #failure: Counter<'model' | 'version' | 'protocol' | 'reason'>;
  readonly #request: Histogram<'model' | 'version' | 'protocol'>;
  readonly #queue: Histogram<'model' | 'version'>;
  readonly #compute: Histogram<'model' | 'version'>;
  readonly #batch: Histogram<'model' | 'version'>;
  readonly #pools = new Map<string, { labels: Labels; stats: () => PoolStats }>();
  readonly #onEvent = (message: unknown) => this.#poolEvent(message as PoolRunEvent);

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#success = new Counter({ name: 'ort_napi_inference_request_success_total', help: 'Inference requests answered successfully', labelNames: ['model', 'version', 'protocol'], registers });
    this.#failure = new Counter({ name: 'ort_napi_inference_request_failure_total', help: 'Inference requests that failed, by reason (the error kind: invalid_argument, resource_exhausted, deadline_exceeded, cancelled, ...)', labelNames: ['model', 'version', 'protocol', 'reason'], registers });
    this.#request = new Histogram({ name: 'ort_napi_inference_request_duration_seconds', help: 'Inference request time in the server, decoding and encoding included', labelNames: ['model', 'version', 'protocol'], buckets: SECONDS, registers });
    this.#queue = new Histogram({ name: 'ort_napi_inference_queue_duration_seconds', help: "Time requests waited in the model's queue", labelNames: ['model', 'version'], buckets: SECONDS, registers });
    this.#compute = new Histogram({ name: 'ort_napi_inference_compute_duration_seconds', help: 'Time of the ONNX Runtime run that served each request', labelNames: ['model', 'version'], buckets: SECONDS, registers });
    this.#batch = new Histogram({ name: 'ort_napi_inference_batch_size', help: 'Requests in the run that served each request (1 when unbatched)', labelNames: ['model', 'version'], buckets: BATCH, registers });
    const pools = this.#pools;
    new Gauge({
      name: 'ort_napi_inference_pending_requests',
      help: 'Requests queued or running, per model version',
      labelNames: ['model', 'version', 'state'],
      registers,
      collect() {
        this.reset();
        for (const { labels, stats } of pools.values()) {
          const s = stats();
          this.set({ ...labels, state: 'queued' }, s.queued);
          this.set({ ...labels, state: 'running' }, s.inFlight);
        }
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    subscribe(POOL_CHANNEL, this.#onEvent);
  }

  /** Attributes a pool's events (by its unique name) to a model version. */
  track(poolName: string, labels: Labels, stats: () => PoolStats): void {
    this.#pools.set(poolName, { labels, stats });
  }

  untrack(poolName: string): void {
    this.#pools.delete(poolName);
  }

  success(labels: Labels, protocol: string, seconds: number): void {
    const withProtocol = this.#withProtocol(labels, protocol);
    this.#success.inc(withProtocol);
    this.#request.observe(withProtocol, seconds);
  }

  failure(labels: Labels, protocol: string, reason: string, seconds: number): void {
    this.#failure.inc({ ...labels, protocol, reason });
    this.#request.observe(this.#withProtocol(labels, protocol), seconds);
  }

  // The label objects of each model version and protocol, made once: no allocation per request.
  readonly #labelCache = new WeakMap<Labels, Map<string, Labels & { protocol: string }>>();

  #withProtocol(labels: Labels, protocol: string): Labels & { protocol: string } {
    let byProtocol = this.#labelCache.get(labels);
    if (!byProtocol) this.#labelCache.set(labels, (byProtocol = new Map()));
    let found = byProtocol.get(protocol);
    if (!found) byProtocol.set(protocol, (found = { ...labels, protocol }));
    return found;
  }

  #poolEvent(event: PoolRunEvent): void {
    const pool = this.#pools.get(event.pool);
    if (!pool || event.outcome === 'rejected') return;
    // Runs inside the pool's own bookkeeping (a diagnostics_channel subscriber): it must not throw.
    try {
      this.#queue.observe(pool.labels, event.queueWaitMs / 1000);
      if (event.batchSize > 0) {
        this.#compute.observe(pool.labels, event.runMs / 1000);
        this.#batch.observe(pool.labels, event.batchSize);
      }
    } catch {
      // A value prom-client refuses (not finite) is left out of the histograms.
    }
  }

  close(): void {
    unsubscribe(POOL_CHANNEL, this.#onEvent);
    this.#pools.clear();
  }
}
