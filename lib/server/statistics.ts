// statistics.ts: Triton's statistics extension (GET /v2/models[/{name}[/versions/{v}]]/stats and
// the ModelStatistics RPC), which perf_analyzer and Triton's clients read for the server's side of
// a request: how many, how long queued, how long computing, in which batch sizes.
//
// What is counted, for each loaded model version (a version loaded again starts from zero, as
// Triton's does):
// - success / fail: requests that reached the model and how long each spent in the server (from
//   the core's start to its answer's outputs, what ort_napi_inference_request_duration_seconds
//   observes); a request for an unknown model counts nowhere.
// - queue: the pool's queue wait of each successful request; compute_infer: its run, as the pool
//   times it (ONNX Runtime's Run with the inputs' and outputs' conversions, which the addon does
//   within it); compute_input: the request's tensors decoded from the request (JSON, binary or
//   protobuf contents into typed arrays) and checked; compute_output: the run's outputs taken for
//   the answer. Triton counts these per request, a batch's run once for each of its requests.
// - inference_count: inferences, each row of a batched request counted (a model without batching:
//   one per request); execution_count: runs, a batch once.
// - batch_stats: per batch size (rows, 1 without batching), the runs and their time. Only
//   compute_infer is measured per run: compute_input and compute_output there carry no samples
//   (count 0), as do cache_hit and cache_miss (there is no response cache).
// The request path adds to plain numbers (a few additions, no allocation); the pool's events come
// through its diagnostics_channel, as for the metrics. With `--workers N` the primary sums every
// worker's figures (cluster.ts).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { POOL_CHANNEL, type PoolRunEvent } from '../index.js';

export interface DurationStat {
  count: number;
  ns: number;
}

export interface BatchStat {
  batch_size: number;
  compute_input: DurationStat;
  compute_infer: DurationStat;
  compute_output: DurationStat;
}

/** One model version's statistics, in the shape of Triton's $model_stat (and the ModelStatistics message). */
export interface ModelStat {
  name: string;
  version: string;
  /** Milliseconds since the epoch of the last request that reached the model; 0 before any. */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: DurationStat;
    fail: DurationStat;
    queue: DurationStat;
    compute_input: DurationStat;
    compute_infer: DurationStat;
    compute_output: DurationStat;
    cache_hit: DurationStat;
    cache_miss: DurationStat;
  };
  batch_stats: BatchStat[];
}

const NS_PER_MS = 1e6;

class Accumulator {
  count = 0;
  ms = 0;

  add(ms: number): void {
    this.count++;
    this.ms += ms;
  }

  toJSON(): DurationStat {
    return { count: this.count, ns: Math.round(this.ms * NS_PER_MS) };
  }
}

const none = (): DurationStat => ({ count: 0, ns: 0 });

/** What one loaded model version counts (see the file's header). */
export class VersionStatistics {
  readonly name: string;
  readonly version: string;
  /** Whether its pool batches: then a request's rows are its inferences, and a run's rows its batch size. */
  readonly #batched: boolean;
  #last = -1; // performance.now() of the last request's end
  #inferences = 0;
  #executions = 0;
  readonly #success = new Accumulator();
  readonly #fail = new Accumulator();
  readonly #queue = new Accumulator();
  readonly #input = new Accumulator();
  readonly #infer = new Accumulator();
  readonly #output = new Accumulator();
  readonly #batches = new Map<number, Accumulator>();
  // The run whose requests' events are arriving: a batch's requests are answered one after another
  // in one go, each event carrying the batch's size and the run's time.
  #runMs = Number.NaN;
  #runRequests = 0;
  #runLeft = 0;

  constructor(name: string, version: string, batched: boolean) {
    this.name = name;
    this.version = version;
    this.#batched = batched;
  }

  /** A request answered: `inputMs` decoding its tensors, `outputMs` taking its outputs, `totalMs` in all; `rows` its batch dimension. */
  succeeded(totalMs: number, inputMs: number, outputMs: number, rows: number, at: number): void {
    this.#last = at;
    this.#success.add(totalMs);
    this.#input.add(inputMs);
    this.#output.add(outputMs);
    this.#inferences += this.#batched && rows > 0 ? rows : 1;
  }

  failed(totalMs: number, at: number): void {
    this.#last = at;
    this.#fail.add(totalMs);
  }

  /** A pool event of this version's pool. */
  ran(event: PoolRunEvent): void {
    if (event.outcome !== 'ok') return;
    this.#queue.add(event.queueWaitMs);
    this.#infer.add(event.runMs);
    const requests = event.batchSize;
    if (this.#runLeft > 0 && requests === this.#runRequests && event.runMs === this.#runMs) {
      this.#runLeft--; // another request of the run just counted
      return;
    }
    this.#executions++;
    this.#runMs = event.runMs;
    this.#runRequests = requests;
    this.#runLeft = requests - 1;
    const size = this.#batched && event.batchRows > 0 ? event.batchRows : 1;
    let batch = this.#batches.get(size);
    if (!batch) this.#batches.set(size, (batch = new Accumulator()));
    batch.add(event.runMs);
  }

  toJSON(): ModelStat {
    return {
      name: this.name,
      version: this.version,
      last_inference: this.#last < 0 ? 0 : Math.round(performance.timeOrigin + this.#last),
      inference_count: this.#inferences,
      execution_count: this.#executions,
      inference_stats: {
        success: this.#success.toJSON(),
        fail: this.#fail.toJSON(),
        queue: this.#queue.toJSON(),
        compute_input: this.#input.toJSON(),
        compute_infer: this.#infer.toJSON(),
        compute_output: this.#output.toJSON(),
        cache_hit: none(),
        cache_miss: none(),
      },
      batch_stats: [...this.#batches]
        .sort(([a], [b]) => a - b)
        .map(([size, run]) => ({ batch_size: size, compute_input: none(), compute_infer: run.toJSON(), compute_output: none() })),
    };
  }
}

/** The versions' statistics by their pools' names, fed by the pools' events. */
export class Statistics {
  readonly #byPool = new Map<string, VersionStatistics>();
  readonly #onEvent = (message: unknown) => {
    const event = message as PoolRunEvent;
    this.#byPool.get(event.pool)?.ran(event);
  };

  constructor() {
    subscribe(POOL_CHANNEL, this.#onEvent);
  }

  track(poolName: string, stats: VersionStatistics): void {
    this.#byPool.set(poolName, stats);
  }

  untrack(poolName: string): void {
    this.#byPool.delete(poolName);
  }

  close(): void {
    unsubscribe(POOL_CHANNEL, this.#onEvent);
    this.#byPool.clear();
  }
}

/** Which versions a statistics request asks for, as the asking server resolved them. */
export type StatsSelection = { name: string; version: string }[];

function addDuration(into: DurationStat, from: DurationStat): void {
  into.count += from.count;
  into.ns += from.ns;
}

/**
 * Several servers' figures for the same selection (every worker's, `--workers N`) as one: counts
 * and durations summed, the latest last_inference, batch sizes merged. In the selection's order;
 * a version no server reported (unloaded meanwhile) is left out.
 */
export function mergeStats(selection: StatsSelection, reports: ModelStat[][]): ModelStat[] {
  const merged: ModelStat[] = [];
  for (const { name, version } of selection) {
    let into: ModelStat | undefined;
    for (const report of reports) {
      const stat = report.find((s) => s.name === name && s.version === version);
      if (!stat) continue;
      if (!into) {
        into = structuredClone(stat);
        continue;
      }
      into.last_inference = Math.max(into.last_inference, stat.last_inference);
      into.inference_count += stat.inference_count;
      into.execution_count += stat.execution_count;
      for (const key of Object.keys(into.inference_stats) as (keyof ModelStat['inference_stats'])[]) addDuration(into.inference_stats[key], stat.inference_stats[key]);
      for (const batch of stat.batch_stats) {
        const same = into.batch_stats.find((b) => b.batch_size === batch.batch_size);
        if (!same) into.batch_stats.push(structuredClone(batch));
        else {
          addDuration(same.compute_input, batch.compute_input);
          addDuration(same.compute_infer, batch.compute_infer);
          addDuration(same.compute_output, batch.compute_output);
        }
      }
    }
    if (into) {
      into.batch_stats.sort((a, b) => a.batch_size - b.batch_size);
      merged.push(into);
    }
  }
  return merged;
}
