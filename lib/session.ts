// session.ts: InferenceSession: loads a model off the main thread, validates feeds against its metadata, runs it.
import type { Stats } from 'node:fs';
import { markAsUntransferable } from 'node:worker_threads';
import { loadOrt, native, type NativeRunOptions, type NativeRunOptionsHandle, type NativeOutputs, type NativeSession, type NativeTensor, type NativeValueInfo } from './binding.js';
import { ReleasedError } from './errors.js';
import { IoBinding } from './io-binding.js';
import { describeModel, unwatch, watch } from './lifetime.js';
import { normalizeRunOptions, normalizeSessionOptions, type RunOptions, type SessionOptions } from './options.js';
import { cudaLibrary } from './providers.js';
import { ARRAY_BY_CODE, ELEMENT_TYPES, isDetached, setDeviceAllocator, storageLength, Tensor, TYPE_BY_CODE, typeName, type TensorData, type TensorType } from './tensor.js';
import { nextTurn, turnSpent } from './inline.js';
import { lend } from './lending.js';
import { checkModelFile, explainLoadFailure } from './model-file.js';
import { dimsText, invalid, outOfRange } from './validate.js';
import { ABSENT, decodeValue, encodeValue, toTypeInfo, type Raw, type TypeInfo } from './values.js';
import { resultIn } from './wait.js';

export type ValueKind = TypeInfo['kind'];

/**
 * What the model says of one input or output: its name and type. Dims are numbers where fixed,
 * strings where symbolic, -1 where unknown. Non-tensors describe their contents:
 * `{ kind: 'sequence', element }`, `{ kind: 'map', key, value }`, `{ kind: 'optional', element }`.
 */
export type ValueMetadata =
  | ({ readonly name: string; readonly isTensor: true } & Extract<TypeInfo, { kind: 'tensor' }>)
  | ({ readonly name: string; readonly isTensor: false } & Exclude<TypeInfo, { kind: 'tensor' }>);

export interface ModelMetadata {
  readonly producerName: string;
  readonly graphName: string;
  readonly domain: string;
  readonly description: string;
  readonly graphDescription: string;
  /** The model_version field; undefined when the model does not set it. */
  readonly version?: number;
  readonly customMetadataMap: Readonly<Record<string, string>>;
}

export type FeedsType = Readonly<Record<string, Tensor>>;
/** Output names, or output names mapped to a Tensor to write into (preallocated) or null. */
export type FetchesType = readonly string[] | Readonly<Record<string, Tensor | null>>;
export type RunResult = Record<string, Tensor>;

/** One value of a signature: its element type, and optionally its dims (as `ort-napi types` prints them). */
export type ValueSpec = TensorType | { readonly type: TensorType; readonly dims?: readonly (number | string)[] };

/**
 * A model's inputs and outputs by name, for typed sessions: `InferenceSession.create<S>(...)`
 * then accepts exactly those inputs with Tensors of those types and returns typed outputs.
 * `npx ort-napi types model.onnx` prints one for a model.
 */
export interface ModelSignature {
  readonly inputs: Readonly<Record<string, ValueSpec>>;
  readonly outputs: Readonly<Record<string, ValueSpec>>;
}

/** The signature of an untyped session: any names, any tensors. */
export interface AnySignature extends ModelSignature {
  readonly inputs: Readonly<Record<string, TensorType>>;
  readonly outputs: Readonly<Record<string, TensorType>>;
}

type TypeOfSpec<V> = V extends TensorType ? V : V extends { readonly type: infer T extends TensorType } ? T : never;
/** The feeds a session of signature S takes. */
export type SignatureFeeds<S extends ModelSignature> = { readonly [K in keyof S['inputs']]: Tensor<TypeOfSpec<S['inputs'][K]>> };
/** The outputs a session of signature S returns. */
export type SignatureOutputs<S extends ModelSignature> = { [K in keyof S['outputs']]: Tensor<TypeOfSpec<S['outputs'][K]>> };
type OutputName<S extends ModelSignature> = keyof S['outputs'] & string;
type PreallocatedFetches<S extends ModelSignature> = { readonly [K in OutputName<S>]?: Tensor<TypeOfSpec<S['outputs'][K]>> | null };
/** The outputs of a run into preallocated fetches: some of a typed session's; of an untyped one, by any name (onnxruntime-common's ReturnType). */
type FetchedOutputs<S extends ModelSignature> = string extends OutputName<S> ? SignatureOutputs<S> : Partial<SignatureOutputs<S>>;

setDeviceAllocator((type, dims, options) => {
  const { path } = loadOrt();
  const deviceId = options.deviceId ?? 0;
  if (!Number.isSafeInteger(deviceId) || deviceId < 0) throw invalid('Tensor.allocate options.deviceId', 'a non-negative integer', deviceId);
  return native.allocateTensor(ELEMENT_TYPES[type].code, dims, deviceId, cudaLibrary(options.providerLibraryPath, path ?? ''));
});


function toMetadata(info: NativeValueInfo): ValueMetadata {
  const type = toTypeInfo(info);
  return Object.freeze({ name: info.name, isTensor: type.kind === 'tensor', ...type }) as ValueMetadata;
}

/** A prepared call: flat arrays for the addon, and what is needed to name its results. */
interface Call {
  /**
   * What to run, as the addon's run descriptor holds it (describe()): [length, feedCount, fetchCount, per
   * feed: input index, element type code (-1: a sequence or map), rank, dims..., per fetch: output
   * index, -1 or a preallocated output's type code, then its rank and dims]. Numbers only: they
   * reach native through one Float64Array instead of a call into V8 for each.
   */
  descriptor: number[];
  /** Each feed's data (or encoded value), then each preallocated fetch's. */
  slots: unknown[];
  names: string[];
  preallocated: (Tensor | null)[] | undefined;
  options: NativeRunOptions | undefined;
  signal: AbortSignal | undefined;
  /** A SessionPool request's ticket (RunTicket), else undefined. */
  ticket: RunTicket | undefined;
  /** A SessionPool request's RunDone, else undefined. */
  done: RunDone | undefined;
}

/**
 * @internal Told, for a run that _run answered with a promise, how the run ended: before that
 * promise settles (so within the same microtask as the session's own bookkeeping, where a `then`
 * on the promise would cost the pool a reaction of its own, 3-5 µs a request of a 1 ms model on
 * a loop that waited for it). It must not throw.
 */
export type RunDone = (ok: boolean, error: unknown) => void;

/**
 * @internal A SessionPool's request, given to _run. While the run waits for one of the session's
 * slots, `leave` takes it out of the line (rejecting it with the reason given): the pool, which
 * already watches the request's signal and deadline, calls it, so that a waiting request costs no
 * listener on a signal that many requests share (a connection's). When the run gets its slot after
 * waiting, `leave` is cleared and `startedAt` set (performance.now()).
 */
export interface RunTicket {
  startedAt: number;
  leave: ((reason: unknown) => void) | undefined;
}

const constructing = Symbol('InferenceSession');

/** @internal A session option (by symbol) for sessions made on a caller's behalf: no GC warning for them. */
export const UNWATCHED = Symbol('ort-napi unwatched');

export class InferenceSession<S extends ModelSignature = AnySignature> {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  readonly modelMetadata: ModelMetadata;
  /**
   * Bytes of the memory the load filled (the weights, and the packed copies kernels make of them)
   * that were remapped onto 2 MiB transparent huge pages: Linux 6.1 or newer, `hugePages` not false.
   * 0 elsewhere, or where the kernel had no huge page to give.
   */
  readonly hugePageBytes: number;

  readonly #native: NativeSession;
  readonly #inputIndex = new Map<string, number>();
  /** Each input's name as errors give it (`input 'x'`), made once rather than at every run. */
  readonly #inputLabels: readonly string[];
  readonly #outputIndex = new Map<string, number>();
  #inFlight = 0;
  #onIdle: (() => void) | undefined;
  readonly #maxConcurrentRuns: number;
  /**
   * Whether each of this session's runs computes on its calling thread alone (one intra-op
   * thread, no inter-op or shared pool). Such a session's short run may execute inline beside its
   * other runs executing on runners: it shares no pool with them. Any other session's runs
   * execute inline only alone: one beside others would wait for the pool they hold.
   */
  readonly #runsOnCaller: boolean;
  #executing = 0;
  readonly #waiting: (() => void)[] = [];
  #releasing: Promise<void> | undefined;
  readonly #token = {};
  #warnedExtraFeed = false;

  /** Loads a model from a file path or its bytes. The load runs off the main thread. */
  static create<S extends ModelSignature = AnySignature>(path: string, options?: SessionOptions): Promise<InferenceSession<S>>;
  static create<S extends ModelSignature = AnySignature>(bytes: Uint8Array, options?: SessionOptions): Promise<InferenceSession<S>>;
  static create<S extends ModelSignature = AnySignature>(buffer: ArrayBufferLike, options?: SessionOptions): Promise<InferenceSession<S>>;
  static create<S extends ModelSignature = AnySignature>(
    buffer: ArrayBufferLike,
    byteOffset: number,
    byteLength?: number,
    options?: SessionOptions,
  ): Promise<InferenceSession<S>>;
  static async create(model: unknown, arg1?: unknown, arg2?: unknown, arg3?: unknown): Promise<InferenceSession<ModelSignature>> {
    let source: string | Uint8Array;
    let options: unknown = arg1;
    if (typeof model === 'string') {
      if (model.length === 0) throw invalid('model path', 'a non-empty string', model);
      source = model;
    } else if (model instanceof Uint8Array) {
      source = model;
    } else if (model instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && model instanceof SharedArrayBuffer)) {
      let offset = 0;
      let length = model.byteLength;
      if (typeof arg1 === 'number') {
        offset = arg1;
        if (!Number.isSafeInteger(offset) || offset < 0 || offset > model.byteLength) {
          throw outOfRange('byteOffset', `an integer from 0 to ${model.byteLength}`, offset);
        }
        length = arg2 === undefined ? model.byteLength - offset : (arg2 as number);
        if (!Number.isSafeInteger(length) || length < 0 || offset + length > model.byteLength) {
          throw outOfRange('byteLength', `an integer from 0 to ${model.byteLength - offset}`, arg2);
        }
        options = arg3;
      }
      source = new Uint8Array(model, offset, length);
    } else {
      throw invalid('model', 'a file path, a Uint8Array or an ArrayBuffer', model);
    }
    if (typeof source !== 'string') {
      if (source.byteLength === 0) throw invalid('model bytes', 'non-empty', source);
      lend('model bytes', source);
    }
    const { runThreads, path: libraryPath } = loadOrt();
    const nativeOptions = normalizeSessionOptions(options, libraryPath);
    if (nativeOptions.useGlobalThreadPools && !native.versions().globalThreadPools) {
      throw new TypeError('session options.useGlobalThreadPools needs the shared pools: call env.init({ globalThreadPools: {...} }) before the first session');
    }
    const maxConcurrentRuns = concurrentRunsFor(options as SessionOptions | undefined, runThreads);
    let session: NativeSession;
    let stats: Stats | undefined;
    try {
      if (typeof source === 'string') stats = await checkModelFile(source);
      session = await native.createSession(source, nativeOptions);
    } catch (error) {
      if (error instanceof Error) {
        await explainLoadFailure(error, source, stats);
        Error.captureStackTrace(error);
      }
      throw error;
    }
    // Each Run on its calling thread alone: one intra-op thread, no inter-op pool, no shared pools.
    const runsOnCaller = nativeOptions.intraOpNumThreads === 1 && nativeOptions.executionMode !== 1 && !nativeOptions.useGlobalThreadPools;
    const created = new InferenceSession(constructing, session, maxConcurrentRuns, runsOnCaller);
    // Sessions onnxruntime-common's backend path makes are its callers' to release, as in
    // onnxruntime-node, which never warns: no warning for them.
    if (!(options as Record<symbol, unknown> | undefined)?.[UNWATCHED]) {
      watch(created, { kind: 'InferenceSession', what: `an InferenceSession of ${describeModel(model)}`, release: 'release()' }, created.#token);
    }
    return created;
  }

  /** Sessions are made by InferenceSession.create(). */
  private constructor(token: typeof constructing, session: NativeSession, maxConcurrentRuns: number, runsOnCaller: boolean) {
    if (token !== constructing) throw new TypeError('sessions are made by InferenceSession.create()');
    this.#native = session;
    this.#maxConcurrentRuns = maxConcurrentRuns;
    this.#runsOnCaller = runsOnCaller;
    const metadata = session.metadata();
    this.inputMetadata = Object.freeze(metadata.inputs.map(toMetadata));
    this.outputMetadata = Object.freeze(metadata.outputs.map(toMetadata));
    this.inputNames = Object.freeze(metadata.inputs.map((i) => i.name));
    this.outputNames = Object.freeze(metadata.outputs.map((o) => o.name));
    this.inputNames.forEach((name, i) => this.#inputIndex.set(name, i));
    this.#inputLabels = this.inputNames.map((name) => `input '${name}'`);
    this.outputNames.forEach((name, i) => this.#outputIndex.set(name, i));
    this.modelMetadata = Object.freeze({ ...metadata.model, customMetadataMap: Object.freeze(metadata.model.customMetadataMap) });
    this.hugePageBytes = metadata.hugePageBytes;
  }

  /**
   * Runs the model off the main thread. Many runs may be in flight on one session at once.
   * `run(feeds, options?)` or `run(feeds, fetches, options?)`, as in onnxruntime-common.
   */
  run(feeds: SignatureFeeds<S>, options?: RunOptions): Promise<SignatureOutputs<S>>;
  run<K extends OutputName<S>>(feeds: SignatureFeeds<S>, fetches: readonly K[], options?: RunOptions): Promise<Pick<SignatureOutputs<S>, K>>;
  run(feeds: SignatureFeeds<S>, fetches: PreallocatedFetches<S>, options?: RunOptions): Promise<FetchedOutputs<S>>;
  run(feeds: FeedsType, arg1?: unknown, arg2?: unknown): Promise<SignatureOutputs<S>> {
    let call: Call;
    try {
      call = this.#prepare(feeds, arg1, arg2);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#runCall(call) as Promise<SignatureOutputs<S>>;
  }

  /**
   * @internal The pool's run(feeds, { signal }): a run that executes inline (see run()) gives its
   * result itself, so that the pool frees its slot at once rather than a promise's turn later; any
   * other gives a promise, and then calls `done` (RunDone) as it settles. Bad feeds throw. See
   * RunTicket for `ticket`.
   */
  _run(feeds: FeedsType, signal: AbortSignal | undefined, ticket: RunTicket | undefined, done?: RunDone): RunResult | Promise<RunResult> {
    const call = this.#prepare(feeds, signal ? { signal } : undefined, undefined);
    call.ticket = ticket;
    call.done = done;
    if (this.#inFlight === 0 && !signal?.aborted && !turnSpent()) {
      // Nothing else of this session in flight, so a slot is free. One call to native: it runs the
      // request here if the session's runs are short (the outputs come back now), else submits it
      // to a runner (a promise); with a signal it then starts nothing (undefined), as a run on a
      // runner needs run options of its own to be stopped, and the run goes the way of every run.
      // (Asking "inline or nothing" first and submitting in a second call cost the first call into
      // the addon after the loop's wait twice: 2 to 3 µs a request of a 1 ms model.)
      this.#inFlight++;
      this.#executing++;
      let out: NativeOutputs | Promise<NativeOutputs> | undefined;
      try {
        out = this.#native.run(describe(call), call.slots, call.options, true, signal !== undefined) as typeof out;
      } catch (error) {
        this.#ended(1);
        throw error;
      }
      if (Array.isArray(out)) {
        // Collected first: the outputs' block is the addon's, reused by the next sync run.
        let result: RunResult;
        try {
          result = collect(call, out);
        } finally {
          this.#ended(1);
        }
        return result;
      }
      if (out !== undefined) return this.#submitted(call, out);
      this.#ended(1);
    }
    return this.#runCall(call);
  }

  /** A run that _run submitted, holding the slot and the count in flight that _run took. */
  async #submitted(call: Call, run: Promise<NativeOutputs>): Promise<RunResult> {
    let raw: NativeOutputs | undefined;
    let failure: unknown;
    try {
      raw = await run;
    } catch (error) {
      failure = error;
    } finally {
      resultIn();
      this.#releaseSlot();
      this.#ended(0);
    }
    if (raw === undefined) {
      if (failure instanceof Error) Error.captureStackTrace(failure);
      call.done?.(false, failure); // its slot is free: a request the pool starts now may take it
      throw failure;
    }
    return collectFor(call, raw);
  }

  /** A run is over: `slots` of its own to give back directly (no waiter can have come), and its count in flight. */
  #ended(slots: 0 | 1): void {
    this.#executing -= slots;
    if (--this.#inFlight === 0 && this.#onIdle) this.#onIdle();
  }

  async #runCall(call: Call): Promise<RunResult> {
    const signal = call.signal;
    let raw: NativeOutputs | undefined;
    let collected: RunResult | undefined;
    this.#inFlight++;
    try {
      signal?.throwIfAborted();
      if (turnSpent()) {
        // The runs since the loop last turned have spent the budget (inline.ts): this one is in
        // flight (a release() waits for it), and starts once the loop has turned.
        await nextTurn();
        signal?.throwIfAborted();
      }
      const slot = this.#acquireSlot(signal, call.ticket);
      if (slot) await slot;
      try {
        // Alone on this session (or beside its runs on runners, where each run computes on its
        // calling thread alone) and within the loop turn's budget: native runs it here if the
        // session's runs are shorter than a hand-off (inline.ts). Such a run is over before a signal
        // could stop it, so one with a signal may run here too: only a run on a runner needs the
        // run options (and listener) that let a signal terminate it.
        // Beside: with several callers, a run that went to a runner (the budget spent between the
        // checks, or the session's first runs, not yet measured) kept every other caller's run off
        // the calling thread while it was in flight, and with callers enough one always was: four
        // callers awaiting the tiny model went from 125,000 runs/s alone to 55,000, two runners
        // busy handing runs of 2 µs back and forth.
        const inline = (this.#executing === 1 || this.#runsOnCaller) && !turnSpent();
        const result = signal && !inline ? undefined : this.#native.run(describe(call), call.slots, call.options, inline, signal !== undefined);
        // An inline run's outputs are collected at once: their block is the addon's, reused by the next sync run.
        if (Array.isArray(result)) collected = collect(call, result);
        else raw = result ? await result : await this.#runAbortable(call, signal!);
      } finally {
        resultIn();
        this.#releaseSlot();
      }
    } catch (error) {
      if (error instanceof Error && error !== signal?.reason) Error.captureStackTrace(error);
      call.done?.(false, error);
      throw error;
    } finally {
      if (--this.#inFlight === 0 && this.#onIdle) this.#onIdle();
    }
    if (collected === undefined) return collectFor(call, raw!);
    call.done?.(true, undefined);
    return collected;
  }

  /** A run whose own ONNX Runtime run options are terminated when `signal` aborts. */
  #runAbortable(call: Call, signal: AbortSignal): Promise<NativeOutputs> {
    signal.throwIfAborted();
    return runStoppable(call.options, signal, (handle) => this.#native.run(describe(call), call.slots, handle));
  }

  /** Runs the model on the calling thread, blocking it: for code already inside a Worker. */
  runSync(feeds: SignatureFeeds<S>, options?: RunOptions): SignatureOutputs<S>;
  runSync<K extends OutputName<S>>(feeds: SignatureFeeds<S>, fetches: readonly K[], options?: RunOptions): Pick<SignatureOutputs<S>, K>;
  runSync(feeds: SignatureFeeds<S>, fetches: PreallocatedFetches<S>, options?: RunOptions): FetchedOutputs<S>;
  runSync(feeds: FeedsType, arg1?: unknown, arg2?: unknown): SignatureOutputs<S> {
    const call = this.#prepare(feeds, arg1, arg2);
    call.signal?.throwIfAborted(); // a sync run cannot be stopped once started
    return collect(call, this.#native.runSync(describe(call), call.slots, call.options)) as SignatureOutputs<S>;
  }

  /**
   * Releases the session once the runs in flight have finished; new calls are refused from now on.
   * Idempotent. Output tensors stay valid: they own their memory.
   */
  release(): Promise<void> {
    if (!this.#releasing) {
      unwatch(this.#token);
      this.#releasing = (this.#inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.#onIdle = resolve))).then(() =>
        this.#native.release(),
      );
    }
    return this.#releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** A new I/O binding for this session: bind inputs and outputs once, then runWithBinding(). */
  createIoBinding(): IoBinding {
    if (this.#releasing) throw new ReleasedError('this InferenceSession');
    const metadata = (list: readonly ValueMetadata[], name: string) => list[list.findIndex((m) => m.name === name)];
    return new IoBinding(this.#native.createIoBinding(), {
      inputNames: this.inputNames,
      outputNames: this.outputNames,
      _checkInput: (name, value) => checkTensor(`input '${name}'`, value, metadata(this.inputMetadata, name), true),
      _checkOutput: (name, value) => checkTensor(`output '${name}'`, value, metadata(this.outputMetadata, name), true),
      _libraryPath: () => loadOrt().path ?? '',
    });
  }

  /**
   * Runs over a binding's inputs and outputs, off the main thread. Run options as for run(),
   * `signal` included. Read the outputs with binding.getOutputs() (bound Tensors are written in place).
   */
  async runWithBinding(binding: IoBinding, options?: RunOptions): Promise<void> {
    if (this.#releasing) throw new ReleasedError('this InferenceSession');
    if (!(binding instanceof IoBinding)) throw invalid('binding', 'an IoBinding from this session', binding);
    const { native: runOptions, signal } = normalizeRunOptions(options);
    signal?.throwIfAborted();
    const nativeBinding = binding._native();
    this.#inFlight++;
    try {
      if (!signal) return await binding._track(nativeBinding.run(runOptions));
      await runStoppable(runOptions, signal, (handle) => binding._track(nativeBinding.run(handle)));
    } catch (error) {
      if (error instanceof Error && error !== signal?.reason) Error.captureStackTrace(error);
      throw error;
    } finally {
      if (--this.#inFlight === 0 && this.#onIdle) this.#onIdle();
    }
  }

  /** Finishes the profile started by `enableProfiling` and returns the path of its JSON file. */
  endProfiling(): string {
    if (this.#releasing) throw new ReleasedError('this InferenceSession');
    return this.#native.endProfiling();
  }

  /** @internal Validates feeds as run() would, without running (the pool checks requests before queueing). */
  _checkFeeds(feeds: unknown): void {
    if (this.#releasing) throw new ReleasedError('this InferenceSession');
    this.#flattenFeeds(feeds, undefined);
  }

  /** @internal How many runs this session executes at once. */
  get _maxConcurrentRuns(): number {
    return this.#maxConcurrentRuns;
  }

  /**
   * Checks the feeds against the model's inputs and, given `flat`, appends each one's index, element
   * type code, data and dims for native (a queued pool request is checked without it).
   */
  #flattenFeeds(feeds: unknown, call: Call | undefined): void {
    if (typeof feeds !== 'object' || feeds === null || Array.isArray(feeds) || feeds instanceof Tensor) {
      throw invalid('feeds', 'an object mapping input names to Tensors', feeds);
    }
    const names = Object.keys(feeds);
    let known = 0;
    for (const name of names) {
      const index = this.#inputIndex.get(name);
      if (index === undefined) {
        // onnxruntime-common passes only the model's inputs on, and clients rely on it (one feed
        // object for several models): ignored, with one warning per session.
        this.#warnExtraFeed(name);
        continue;
      }
      known++;
      const meta = this.inputMetadata[index];
      const value = (feeds as Record<string, unknown>)[name];
      if (meta.isTensor) {
        const tensor = checkTensor(this.#inputLabels[index], value, meta);
        if (call) {
          describeTensor(call, index, tensor);
          call.descriptor[1]++;
        }
        continue;
      }
      const encoded = encodeValue(this.#inputLabels[index], value, meta, (what, v, type) => checkTensor(what, v, { name, isTensor: true, ...(type as Extract<TypeInfo, { kind: 'tensor' }>) }));
      if (encoded !== ABSENT && call) {
        call.descriptor.push(index, -1);
        call.slots.push(encoded);
        call.descriptor[1]++;
      }
    }
    if (known !== this.inputNames.length) {
      // An optional input may be left out (or given as null).
      const missing = this.inputNames.filter((n, i) => !Object.prototype.hasOwnProperty.call(feeds, n) && this.inputMetadata[i].kind !== 'optional');
      if (missing.length > 0) throw new TypeError(`feeds is missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`);
    }
  }

  #prepare(feeds: unknown, arg1: unknown, arg2: unknown): Call {
    if (this.#releasing) throw new ReleasedError('this InferenceSession');
    const call: Call = { descriptor: [0, 0, 0], slots: [], names: this.outputNames as string[], preallocated: undefined, options: undefined, signal: undefined, ticket: undefined, done: undefined };
    this.#flattenFeeds(feeds, call);

    let options: unknown = arg1;
    let fetchNames: string[] = this.outputNames as string[];
    let preallocated: (Tensor | null)[] | undefined;
    if (Array.isArray(arg1)) {
      fetchNames = arg1.map((name: unknown, i) => {
        if (typeof name !== 'string') throw invalid(`fetches[${i}]`, 'an output name', name);
        this.#checkOutput(name);
        return name;
      });
      if (new Set(fetchNames).size !== fetchNames.length) throw new TypeError('fetches names an output more than once');
      options = arg2;
    } else if (typeof arg1 === 'object' && arg1 !== null && Object.keys(arg1).some((k) => this.#outputIndex.has(k))) {
      const map = arg1 as Record<string, unknown>;
      fetchNames = Object.keys(map);
      preallocated = fetchNames.map((name) => {
        this.#checkOutput(name);
        const value = map[name];
        if (value === null || value === undefined) return null;
        return checkTensor(`fetches['${name}']`, value, this.outputMetadata[this.#outputIndex.get(name)!]);
      });
      options = arg2;
    }
    if (fetchNames.length === 0) throw new TypeError('fetches must name at least one output');
    for (let i = 0; i < fetchNames.length; i++) {
      const out = preallocated?.[i];
      const index = this.#outputIndex.get(fetchNames[i])!;
      if (out) describeTensor(call, index, out);
      else call.descriptor.push(index, -1);
    }
    call.descriptor[2] = fetchNames.length;
    const runOptions = normalizeRunOptions(options);
    call.names = fetchNames;
    call.preallocated = preallocated;
    call.options = runOptions.native;
    call.signal = runOptions.signal;
    return call;
  }

  /**
   * Undefined when a slot is free now; else a promise that resolves once one is handed over, or
   * rejects when the run leaves the line: on its signal's abort, or through its ticket's `leave`.
   */
  #acquireSlot(signal: AbortSignal | undefined, ticket: RunTicket | undefined): Promise<void> | undefined {
    if (this.#executing < this.#maxConcurrentRuns) {
      this.#executing++;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = () => {
        if (ticket) {
          ticket.leave = undefined;
          ticket.startedAt = performance.now();
        } else {
          signal?.removeEventListener('abort', aborted);
        }
        resolve();
      };
      const leave = (reason: unknown) => {
        const at = this.#waiting.indexOf(waiter);
        if (at < 0) return; // it has its slot already
        this.#waiting.splice(at, 1);
        if (ticket) ticket.leave = undefined;
        reject(reason);
      };
      const aborted = () => leave(signal!.reason);
      if (ticket) ticket.leave = leave;
      else signal?.addEventListener('abort', aborted, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Hands the slot straight to the next waiting run, so no newcomer can slip in between. */
  #releaseSlot(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#executing--;
  }

  #warnExtraFeed(name: string): void {
    if (this.#warnedExtraFeed) return;
    this.#warnedExtraFeed = true;
    process.emitWarning(`feeds has '${name}', which is not an input of this model (inputs: ${this.inputNames.join(', ')}): it is ignored, as onnxruntime-node ignores it. (Warned once per session.)`, {
      type: 'OrtNapiWarning',
      code: 'ORT_NAPI_EXTRA_FEED',
    });
  }

  #checkOutput(name: string): void {
    if (!this.#outputIndex.has(name)) {
      throw new TypeError(`fetches has '${name}', which is not an output of this model (outputs: ${this.outputNames.join(', ')})`);
    }
  }
}

/**
 * onnxruntime-common's names for the session's types (`InferenceSession.SessionOptions`, ...), so
 * that TypeScript written for onnxruntime-node type-checks against ort-napi unchanged.
 */
// A namespace is the only way to give a class these nested type names, as onnxruntime-common does.
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace InferenceSession {
  type SessionOptions = import('./options.js').SessionOptions;
  type RunOptions = import('./options.js').RunOptions;
  type ExecutionProviderConfig = import('./providers.js').ExecutionProviderConfig;
  // As in onnxruntime-common, a value is a Tensor to the type system; sequences, maps and
  // optionals are arrays, Maps and null at run time (see OnnxValue).
  type OnnxValueMapType = { readonly [name: string]: Tensor };
  type NullableOnnxValueMapType = { readonly [name: string]: Tensor | null };
  type FeedsType = OnnxValueMapType;
  type FetchesType = readonly string[] | NullableOnnxValueMapType;
  type ReturnType = { [name: string]: Tensor };
  type ValueMetadata = import('./session.js').ValueMetadata;
}

/**
 * Run options handles for runs that a signal can stop and that set no other run option, taken back
 * once their run is over for the next one: made per run (a native object over ONNX Runtime's
 * options, with a finalizer), they cost a run() with a signal 6.5 us of main-thread time on an MLP
 * whose 300 us run had let those paths go cold. One whose run was terminated is not reused.
 */
const spareRunOptions: NativeRunOptionsHandle[] = [];
const MOST_SPARE_RUN_OPTIONS = 64;

/** `start`s a run under run options that `signal` terminates; a run it stopped rejects with the signal's reason. */
async function runStoppable<T>(options: NativeRunOptions | undefined, signal: AbortSignal, start: (handle: NativeRunOptionsHandle) => Promise<T>): Promise<T> {
  const plain = options === undefined;
  const handle = (plain ? spareRunOptions.pop() : undefined) ?? new native.RunOptions(options);
  let terminated = false;
  const terminate = () => {
    terminated = true;
    handle.terminate();
  };
  signal.addEventListener('abort', terminate, { once: true });
  try {
    return await start(handle);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  } finally {
    signal.removeEventListener('abort', terminate);
    // The run is over (or never started): no run reads these options now.
    if (plain && !terminated && spareRunOptions.length < MOST_SPARE_RUN_OPTIONS) spareRunOptions.push(handle);
  }
}

/**
 * How many runs of one session execute at once; the rest wait their turn, off the event loop's
 * critical path. Each run already uses intraOpNumThreads threads, so running more than
 * cores / intraOpNumThreads at once only makes them contend: with ONNX Runtime's default (a thread
 * per core) that is one run at a time, with intraOpNumThreads 1 one per runner thread.
 */
function concurrentRunsFor(options: SessionOptions | undefined, runThreads: number): number {
  if (options?.maxConcurrentRuns !== undefined) return options.maxConcurrentRuns;
  const intra = options?.intraOpNumThreads ?? 0;
  return intra === 0 ? 1 : Math.max(1, Math.floor(runThreads / intra));
}

/** collect(), then the call's RunDone (if any) told how it went. */
function collectFor(call: Call, raw: NativeOutputs): RunResult {
  if (call.done === undefined) return collect(call, raw);
  let result: RunResult;
  try {
    result = collect(call, raw);
  } catch (error) {
    call.done(false, error);
    throw error;
  }
  call.done(true, undefined);
  return result;
}

/** Appends a tensor to a call: its index, element type, rank and dims, and its data as a slot. */
function describeTensor(call: Call, index: number, tensor: Tensor): void {
  const dims = tensor.dims;
  call.descriptor.push(index, ELEMENT_TYPES[tensor.type].code, dims.length);
  for (let d = 0; d < dims.length; d++) call.descriptor.push(dims[d]);
  call.slots.push(tensor.data);
}

// The run descriptor passed with each call that starts a run (native/run.cc, Descriptor): one
// array, refilled each time (native copies it at once), never handed out of this module.
let runDescriptor = newRunDescriptor(1024);

function newRunDescriptor(length: number): Float64Array {
  const array = new Float64Array(length);
  markAsUntransferable(array.buffer);
  return array;
}

/** Puts `call` in the run descriptor, for the call into the addon that follows at once. */
function describe(call: Call): Float64Array {
  const numbers = call.descriptor;
  numbers[0] = numbers.length;
  if (numbers.length > runDescriptor.length) runDescriptor = newRunDescriptor(Math.max(numbers.length, 2 * runDescriptor.length));
  runDescriptor.set(numbers);
  return runDescriptor;
}

// Codes in the outputs' header (native/run.cc, Collect). In place of an element type, -1: the
// output is its slot, encoded whole; WRITTEN_IN_PLACE: a preallocated output, written into.
const WRITTEN_IN_PLACE = -2;
const IN_SLOT = -1; // in place of a byte offset: the tensor's bytes are its slot's ArrayBuffer

/**
 * An output's dims from the block's header: an array of exactly its rank (a literal up to rank 4,
 * the common ones), where one grown by push reserves 17 elements (measured with V8's sampling heap
 * profiler: a run of silero's inputs and outputs made 3.5 KB of garbage, half of it in collect).
 */
function dimsAt(head: Float64Array, at: number, rank: number): number[] {
  switch (rank) {
    case 0: return [];
    case 1: return [head[at]];
    case 2: return [head[at], head[at + 1]];
    case 3: return [head[at], head[at + 1], head[at + 2]];
    case 4: return [head[at], head[at + 1], head[at + 2], head[at + 3]];
    default: return Array.from(head.subarray(at, at + rank));
  }
}

/** The run's outputs as the caller gets them, each numeric tensor on an ArrayBuffer of its own. */
function collect(call: Call, raw: NativeOutputs): RunResult {
  const out: RunResult = {};
  const block = raw[0];
  const head = new Float64Array(block);
  const names = call.names;
  let h = 1;
  for (let i = 0; i < names.length; i++) {
    const code = head[h++];
    if (code >= 0) {
      const rank = head[h++];
      const dims = dimsAt(head, h, rank);
      h += rank;
      const offset = head[h++];
      const bytes = head[h++];
      const array = ARRAY_BY_CODE[code];
      if (array === undefined) throw new TypeError(`output '${names[i]}' has element type ${typeName(code)}, which ort-napi does not convert yet`);
      // A copy, not a view of the block: callers pass `tensor.data.buffer` on whole (and a sync
      // run's block is reused). A TypedArray from a TypedArray is the cheapest copy V8 makes, half
      // the time of ArrayBuffer#slice.
      const data = offset === IN_SLOT ? new array(raw[i + 1] as ArrayBuffer) : new array(new array(block, offset, bytes / array.BYTES_PER_ELEMENT));
      out[names[i]] = Tensor._trusted(TYPE_BY_CODE[code]!, data as TensorData, dims);
    } else if (code === WRITTEN_IN_PLACE) {
      out[names[i]] = call.preallocated![i]!;
    } else {
      const value = raw[i + 1] as Raw;
      const target = call.preallocated?.[i];
      if (target) {
        // A preallocated string output: ONNX Runtime wrote its own strings, copied into the caller's array.
        const strings = (value as NativeTensor)[1] as string[];
        const into = target.data as string[];
        for (let j = 0; j < strings.length; j++) into[j] = strings[j];
        out[names[i]] = target;
      } else {
        // Strings, sequences, maps and optionals.
        out[names[i]] = decodeValue(value) as Tensor;
      }
    }
  }
  return out;
}

/** Checks a value given for `what` against the model's metadata; returns it as a Tensor. */
function checkTensor(what: string, value: unknown, meta: ValueMetadata, allowDevice = false): Tensor {
  let tensor: Tensor;
  if (value instanceof Tensor) {
    tensor = value;
  } else if (typeof value === 'object' && value !== null && 'type' in value && 'data' in value && 'dims' in value) {
    const like = value as { type: TensorType; data: never; dims: readonly number[] };
    try {
      tensor = new Tensor(like.type, like.data, like.dims); // a Tensor from onnxruntime-common or another copy
    } catch (error) {
      (error as Error).message = `${what}: ${(error as Error).message}`;
      throw error;
    }
  } else {
    throw invalid(what, 'a Tensor', value);
  }
  if (!meta.isTensor) throw new TypeError(`${what} is a ${meta.kind} in this model, not a tensor`);
  if (tensor.location === 'none') throw new TypeError(`${what} was disposed (tensor.dispose()): it has no data to run on`);
  if (tensor.location !== 'cpu' && !allowDevice) {
    throw new TypeError(`${what} is in ${tensor.location} memory: pass device tensors through an IoBinding (session.createIoBinding())`);
  }
  if (tensor.type !== meta.type) {
    throw new TypeError(`${what} has element type '${tensor.type}', but the model expects '${meta.type}'`);
  }
  const shape = meta.shape;
  const dims = tensor.dims;
  // ONNX Runtime checks the shape of an input only where the model declares at least one dim: a
  // declared scalar takes any shape there (silero VAD's `sr` is fed as [1]), and so it does here.
  if (meta.unranked || shape.length === 0) return checkData(what, tensor);
  if (dims.length !== shape.length) {
    throw new RangeError(`${what} has ${dims.length} dims ${dimsText(dims)}, but the model expects ${shape.length} [${shape.join(',')}]`);
  }
  for (let d = 0; d < dims.length; d++) {
    const want = shape[d];
    if (typeof want === 'number' && want >= 0 && dims[d] !== want) {
      throw new RangeError(`${what} has dims[${d}] = ${dims[d]}, but the model fixes it at ${want} (model shape [${shape.join(',')}])`);
    }
  }
  return checkData(what, tensor);
}

/**
 * The data a CPU tensor holds still matches its dims (a detached buffer, or a string array that
 * grew, does not), and can be lent to ONNX Runtime (lending.ts).
 */
function checkData(what: string, tensor: Tensor): Tensor {
  if (tensor.location !== 'cpu') return tensor;
  const data = tensor.data;
  if (data.length !== storageLength(tensor.type, tensor.size)) {
    if (isDetached(data)) throw new TypeError(`${what} cannot be read: its ArrayBuffer was detached (transferred?)`);
    throw new RangeError(`${what} has ${data.length} elements of data but dims ${dimsText(tensor.dims)} need ${storageLength(tensor.type, tensor.size)}`);
  }
  if (!Array.isArray(data)) lend(what, data as ArrayBufferView);
  return tensor;
}
