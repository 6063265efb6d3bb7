// metrics.ts: the server's Prometheus metrics, in a registry of its own (two servers in one process
// do not clash), fed by the front ends (requests) and by the pools' diagnostics_channel events.
//
// What a request costs here. prom-client's inc() and observe() validate the labels, hash the label
// object (sorting its names) and look the series up, on every call: a counter and up to four
// histogram observations per request were the largest server-side item after the run itself on a
// small model (about 15 µs a request in a profile of a 1-client HTTP load; 6 µs in a
// micro-benchmark of success() and one pool event on a 2-core dev machine, where what follows
// takes 0.3 µs). So the request path only adds to numbers kept per label set: each set's series is
// made once, found through the label object itself (a model version's labels are one object for
// its lifetime, see repository.ts), and recording a value is a bucket search and three additions.
// prom-client still makes the text:
// - the success counter stays a prom-client Counter: its collect(), which the registry runs before
//   each scrape, adds what each series counted since the last one with inc(labels, delta);
// - the histograms are metric objects of our own, registered in the registry. prom-client's
//   Histogram has no documented way to add counts in bulk, only observe() of one value: replaying
//   every value at scrape time would only move the cost into a pause at each scrape (and keep every
//   value in between, without bound while nobody scrapes), and writing its internal series would
//   break with any release. Its registry formats a metric from get() (getForPromString() when the
//   metric has one, as prom-client's own classes do), and get() returns the structure
//   Histogram.get() does (typed in prom-client's index.d.ts; getMetricsAsJSON() and the cluster
//   aggregator read the same): the text is prom-client's Histogram's, line for line, sums included
//   (97.server.metrics checks it against one fed the same values). What this gives up:
//   registry.getSingleMetric() of a histogram's name returns this object, which has no observe().
// Failures (rare) keep the plain prom-client counter; their duration goes to the same series as
// successes'. Series are kept by label values, like prom-client's: an unloaded version's series
// stay on /metrics, and one loaded again goes on counting where it was.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { POOL_CHANNEL, type PoolRunEvent, type PoolStats } from '../index.js';

const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256];

interface Labels {
  model: string;
  version: string;
}

/** One label set of a histogram: the count in each bucket (not cumulative), the sum, the count. */
class Series<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  readonly bounds: readonly number[];
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;
  readonly #shown: Set<Series<L>>;

  constructor(labels: Readonly<Record<L, string>>, bounds: readonly number[], shown: Set<Series<L>>) {
    this.labels = labels;
    this.bounds = bounds;
    this.buckets = new Float64Array(bounds.length);
    this.#shown = shown;
  }

  observe(value: number): void {
    // A value prom-client would refuse (not finite) is left out; it cannot come from a clock difference.
    if (!Number.isFinite(value)) return;
    // On /metrics from its first value on, in the order prom-client would list it (first observed, first).
    if (this.count === 0) this.#shown.add(this);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.buckets[i]++; // above the last bound: only in +Inf, which is the count
    this.sum += value;
    this.count++;
  }
}

/** What a histogram's get() gives for one line (the shape of prom-client's Histogram.get()). */
interface HistogramValue {
  value: number;
  metricName: string;
  exemplar: null | undefined;
  labels: Record<string, string | number>;
}

/**
 * A histogram the registry formats like prom-client's own (same name, help, type, buckets, lines),
 * fed through the Series it hands out, which are found once per label set instead of per value.
 */
class AccumulatedHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly #bounds: readonly number[];
  // By label values: as many series as prom-client would keep, whatever objects the labels come in.
  readonly #series = new Map<string, Series<L>>();
  // Those observed since made (or since reset()), in the order of their first value.
  readonly #shown = new Set<Series<L>>();

  constructor(config: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registry: Registry }) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    this.#bounds = Object.freeze([...config.buckets]);
    // Not one of prom-client's classes, but what its registry reads of one: name, type, get(), reset().
    config.registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these labels (their values), made on first use. Not per value: keep what it returns. */
  series(labels: Readonly<Record<L, string>>): Series<L> {
    const values = this.labelNames.map((n) => labels[n]);
    const key = JSON.stringify(values);
    let found = this.#series.get(key);
    if (!found) {
      const own = Object.fromEntries(this.labelNames.map((n, i) => [n, values[i]])) as Record<L, string>;
      this.#series.set(key, (found = new Series(own, this.#bounds, this.#shown)));
    }
    return found;
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; values: HistogramValue[]; aggregator: 'sum' }> {
    const values: HistogramValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.#shown) {
      let cumulative = 0;
      for (let i = 0; i < s.bounds.length; i++) {
        cumulative += s.buckets[i];
        values.push({ value: cumulative, metricName: bucket, exemplar: null, labels: { le: s.bounds[i], ...s.labels } });
      }
      values.push(
        { value: s.count, metricName: bucket, exemplar: null, labels: { le: '+Inf', ...s.labels } },
        { value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined, labels: { ...s.labels } },
        { value: s.count, metricName: `${this.name}_count`, exemplar: undefined, labels: { ...s.labels } },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** registry.resetMetrics(): no series left, as with prom-client's (the Series handed out stay usable). */
  reset(): void {
    for (const s of this.#shown) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
    this.#shown.clear();
  }
}

type RequestLabel = 'model' | 'version' | 'protocol';
type VersionLabel = 'model' | 'version';

/** A model version's requests over one protocol: their durations, and the successes among them. */
interface RequestSeries {
  readonly labels: Readonly<Record<RequestLabel, string>>;
  readonly duration: Series<RequestLabel>;
  successes: number;
  /** What the prom-client counter was given so far. */
  reported: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #failure: Counter<'model' | 'version' | 'protocol' | 'reason'>;
  readonly #request: AccumulatedHistogram<RequestLabel>;
  readonly #queue: AccumulatedHistogram<VersionLabel>;
  readonly #compute: AccumulatedHistogram<VersionLabel>;
  readonly #batch: AccumulatedHistogram<VersionLabel>;
  // By their duration series (so by label values); those with a success, in the order of their
  // first one: the order prom-client's counter would list them in.
  readonly #requests = new Map<Series<RequestLabel>, RequestSeries>();
  readonly #succeeded: RequestSeries[] = [];
  readonly #pools = new Map<string, { labels: Labels; stats: () => PoolStats; queue: Series<VersionLabel>; compute: Series<VersionLabel>; batch: Series<VersionLabel> }>();
  readonly #onEvent = (message: unknown) => this.#poolEvent(message as PoolRunEvent);

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = this.registry;
    const registers = [registry];
    const succeeded = this.#succeeded;
    // Metrics appear on /metrics in the order they are registered: the order prom-client had them in.
    const success = new Counter({
      name: 'ort_napi_inference_request_success_total',
      help: 'Inference requests answered successfully',
      labelNames: ['model', 'version', 'protocol'],
      registers,
      collect() {
        for (const r of succeeded) {
          if (r.successes === r.reported) continue;
          this.inc(r.labels, r.successes - r.reported);
          r.reported = r.successes;
        }
      },
    });
    // registry.resetMetrics(): the counter's series go, and what it is given next counts from
    // there (not the successes since the last scrape before it), listed in the new first-success order.
    const resetCounter = success.reset.bind(success);
    success.reset = () => {
      resetCounter();
      for (const r of succeeded) r.successes = r.reported = 0;
      succeeded.length = 0;
    };
    this.#failure = new Counter({ name: 'ort_napi_inference_request_failure_total', help: 'Inference requests that failed, by reason (the error kind: invalid_argument, resource_exhausted, deadline_exceeded, cancelled, ...)', labelNames: ['model', 'version', 'protocol', 'reason'], registers });
    this.#request = new AccumulatedHistogram({ name: 'ort_napi_inference_request_duration_seconds', help: 'Inference request time in the server, decoding and encoding included', labelNames: ['model', 'version', 'protocol'], buckets: SECONDS, registry });
    this.#queue = new AccumulatedHistogram({ name: 'ort_napi_inference_queue_duration_seconds', help: "Time requests waited in the model's queue", labelNames: ['model', 'version'], buckets: SECONDS, registry });
    this.#compute = new AccumulatedHistogram({ name: 'ort_napi_inference_compute_duration_seconds', help: 'Time of the ONNX Runtime run that served each request', labelNames: ['model', 'version'], buckets: SECONDS, registry });
    this.#batch = new AccumulatedHistogram({ name: 'ort_napi_inference_batch_size', help: 'Requests in the run that served each request (1 when unbatched)', labelNames: ['model', 'version'], buckets: BATCH, registry });
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
    this.#pools.set(poolName, { labels, stats, queue: this.#queue.series(labels), compute: this.#compute.series(labels), batch: this.#batch.series(labels) });
  }

  /** The version's pending-requests gauge goes; its histograms stay, as prom-client keeps series. */
  untrack(poolName: string): void {
    this.#pools.delete(poolName);
  }

  success(labels: Labels, protocol: string, seconds: number): void {
    const r = this.#requestSeries(labels, protocol);
    if (r.successes++ === 0) this.#succeeded.push(r);
    r.duration.observe(seconds);
  }

  failure(labels: Labels, protocol: string, reason: string, seconds: number): void {
    this.#failure.inc({ ...labels, protocol, reason });
    this.#requestSeries(labels, protocol).duration.observe(seconds);
  }

  // Each model version's request series per protocol, found through its labels object: no
  // allocation and no hashing per request. Weak: a version's labels object goes with the version
  // (its series stay in #requests, by label values).
  readonly #requestCache = new WeakMap<Labels, Map<string, RequestSeries>>();

  #requestSeries(labels: Labels, protocol: string): RequestSeries {
    const found = this.#requestCache.get(labels)?.get(protocol);
    return found ?? this.#newRequestSeries(labels, protocol);
  }

  #newRequestSeries(labels: Labels, protocol: string): RequestSeries {
    const duration = this.#request.series({ model: labels.model, version: labels.version, protocol });
    let r = this.#requests.get(duration);
    if (!r) this.#requests.set(duration, (r = { labels: duration.labels, duration, successes: 0, reported: 0 }));
    let byProtocol = this.#requestCache.get(labels);
    if (!byProtocol) this.#requestCache.set(labels, (byProtocol = new Map()));
    byProtocol.set(protocol, r);
    return r;
  }

  // Runs inside the pool's own bookkeeping (a diagnostics_channel subscriber): it must not throw,
  // and Series.observe does not.
  #poolEvent(event: PoolRunEvent): void {
    const pool = this.#pools.get(event.pool);
    if (!pool || event.outcome === 'rejected') return;
    pool.queue.observe(event.queueWaitMs / 1000);
    if (event.batchSize > 0) {
      pool.compute.observe(event.runMs / 1000);
      pool.batch.observe(event.batchSize);
    }
  }

  close(): void {
    unsubscribe(POOL_CHANNEL, this.#onEvent);
    this.#pools.clear();
  }
}
