// core.ts: the one inference path both front ends call: resolve the model, check the request's
// tensors against it, run it through its SessionPool, and account for it (metrics, span).
import type { Tensor } from '../index.js';
import { brief, outputDatatype, quoted, type Datatype } from './codec.js';
import { invalidArgument, ServerError, toServerError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { ModelVersion, Repository } from './repository.js';
import { endSpan, recordPoolRun, startInferSpan } from './tracing.js';

/** One input as a front end read it: decoded only once its name and datatype match the model. */
export interface InferInput {
  name: string;
  datatype: unknown;
  shape: unknown;
  decode(): Tensor;
}

export interface InferCall {
  inputs: InferInput[];
  /** The outputs asked for, by name; undefined: all of them, in the model's order. */
  outputs?: string[];
  /** The request's own deadline, queueing included; undefined: the model's default, if any. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface InferOutput {
  name: string;
  datatype: Datatype;
  shape: number[];
  tensor: Tensor;
}

export type Protocol = 'http' | 'grpc';

const UNKNOWN = { model: '', version: '' };

/** A request's batch dimension: its first input's first dim (what a batching pool counts as its rows). */
function rowsOf(feeds: Record<string, Tensor>): number {
  for (const name in feeds) return feeds[name].dims[0] ?? 1;
  return 1;
}

export class InferenceCore {
  /** True once the server started to drain: readiness turns false and new requests get 503. */
  draining = false;
  readonly repository: Repository;
  readonly #metrics: Metrics | undefined;

  constructor(repository: Repository, metrics: Metrics | undefined) {
    this.repository = repository;
    this.#metrics = metrics;
  }

  /** `carrier`: the request's headers (or gRPC metadata), for the caller's trace context. */
  async infer(protocol: Protocol, name: string, version: string | undefined, prepare: (model: ModelVersion) => InferCall, carrier?: () => Record<string, unknown>): Promise<{ model: ModelVersion; outputs: InferOutput[] }> {
    const started = performance.now();
    const span = startInferSpan(protocol, name, version, carrier);
    let labels = UNKNOWN; // unknown names stay out of the labels: no unbounded series
    let model: ModelVersion | undefined;
    try {
      if (this.draining) throw new ServerError('UNAVAILABLE', 'the server is shutting down and takes no new requests');
      model = this.repository.resolve(name, version);
      labels = model.labels;
      if (span.isRecording()) span.setAttribute('inference.model.version', model.version);
      const call = prepare(model);
      const decodeStart = performance.now();
      const feeds = this.#feeds(model, call.inputs);
      const wanted = this.#wanted(model, call.outputs);
      const decoded = performance.now();
      const timeoutMs = call.timeoutMs ?? model.timeoutMs;
      if (timeoutMs !== undefined && timeoutMs <= 0) throw new ServerError('DEADLINE_EXCEEDED', 'the request deadline passed before it could run');
      const result = await model.pool.run(feeds, {
        signal: call.signal,
        timeoutMs: timeoutMs === undefined ? undefined : Math.max(1, Math.ceil(timeoutMs)),
        observe: span.isRecording() ? (event) => recordPoolRun(span, event) : undefined,
      });
      const ran = performance.now();
      const outputs: InferOutput[] = [];
      for (const out of wanted) {
        const tensor = result[out];
        if (tensor === null) continue; // an optional output the model left empty: absent from the response
        outputs.push({ name: out, datatype: outputDatatype(out, tensor), shape: tensor.dims.slice(), tensor });
      }
      const ended = performance.now();
      model.stats.succeeded(ended - started, decoded - decodeStart, ended - ran, rowsOf(feeds), ended);
      this.#metrics?.success(labels, protocol, (ended - started) / 1000);
      endSpan(span);
      return { model, outputs };
    } catch (caught) {
      const error = toServerError(caught);
      const ended = performance.now();
      model?.stats.failed(ended - started, ended);
      this.#metrics?.failure(labels, protocol, error.kind.toLowerCase(), (ended - started) / 1000);
      endSpan(span, error);
      throw error;
    }
  }

  #feeds(model: ModelVersion, inputs: InferInput[]): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    for (const input of inputs) {
      if (typeof input.name !== 'string') throw invalidArgument(`an input has no name (got ${brief(input.name)})`);
      const what = `input ${quoted(input.name)}`;
      const meta = model.inputs.find((m) => m.name === input.name);
      if (!meta) throw invalidArgument(`model '${model.name}' has no ${what} (its inputs: ${model.inputs.map((m) => m.name).join(', ')})`);
      if (Object.hasOwn(feeds, input.name)) throw invalidArgument(`${what} is given twice`);
      if (meta.datatype === undefined) throw invalidArgument(`${what} has ONNX type '${meta.type}', which the v2 protocol cannot carry`);
      if (input.datatype !== meta.datatype) {
        throw invalidArgument(`${what} has datatype ${brief(input.datatype)}, but model '${model.name}' expects ${meta.datatype}`);
      }
      feeds[input.name] = input.decode();
    }
    const missing = model.inputs.filter((m) => !m.optional && !Object.hasOwn(feeds, m.name));
    if (missing.length > 0) throw invalidArgument(`model '${model.name}' needs input${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m.name}'`).join(', ')}, which the request lacks`);
    return feeds;
  }

  #wanted(model: ModelVersion, outputs: string[] | undefined): string[] {
    if (outputs === undefined || outputs.length === 0) return model.outputs.map((m) => m.name);
    for (const out of outputs) {
      if (typeof out !== 'string' || !model.outputs.some((m) => m.name === out)) {
        throw invalidArgument(`model '${model.name}' has no output ${brief(out)} (its outputs: ${model.outputs.map((m) => m.name).join(', ')})`);
      }
    }
    // An output asked for twice is answered once, where it was first asked for, as Triton does
    // (it keeps the requested names in a set): one tensor, one entry in the response.
    return outputs.length > 1 ? [...new Set(outputs)] : outputs;
  }
}
