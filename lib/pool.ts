// pool.ts: SessionPool: sessions behind a bounded queue, least-loaded dispatch, deadlines, abort,
// dynamic batching, stats, and per-run events on node:diagnostics_channel.
import { channel } from 'node:diagnostics_channel';
import { ReleasedError } from './errors.js';
import { describeModel, unwatch, watch } from './lifetime.js';
import type { SessionOptions } from './options.js';
import { InferenceSession, type AnySignature, type FeedsType, type ModelSignature, type RunResult, type SignatureFeeds, type SignatureOutputs, type ValueMetadata } from './session.js';
import { ELEMENT_TYPES, storageLength, Tensor, type TensorType } from './tensor.js';
import { checkKeys, dimsText, invalid, isPlainObject, optionalInteger } from './validate.js';
import { SpareControllers } from './spare-controllers.js';

/** Thrown when the pool's queue is full: the caller should shed load or retry later. */
export class PoolBusyError extends Error {
  readonly code = 'ERR_POOL_BUSY';
  constructor(maxQueue: number) {
    super(`the pool's queue is full (maxQueue ${maxQueue}); retry later or raise maxQueue`);
    this.name = 'PoolBusyError';
  }
}

export interface BatchingOptions {
  /** The most rows (first-dim entries) one batched run takes. */
  maxBatchSize: number;
  /** How long the first request of a batch may wait for others while a session is free. */
  maxDelayMs: number;
  /** Batch sizes to dispatch at once when reached, without waiting out maxDelayMs. */
  preferredBatchSizes?: readonly number[];
}

export interface PoolOptions {
  /** How many sessions (default 1: one session serves concurrent runs itself; see the README). */
  size?: number;
  /** Options of every session. intraOpNumThreads defaults to 1 here: concurrency comes from the pool. */
  sessionOptions?: SessionOptions;
  /** Per-session options laid over sessionOptions, by index: one session per device, say. */
  placement?: readonly SessionOptions[] | ((index: number) => SessionOptions);
  /** Requests that may wait for a session; beyond it run() rejects with PoolBusyError (default 1024). */
  maxQueue?: number;
  /** A deadline for each request, queueing included (default: none). */
  timeoutMs?: number;
  /** Concatenate compatible requests along their first dim into one run. */
  batching?: BatchingOptions;
  /** The pool's name in diagnostics events. */
  name?: string;
}

export interface PoolRunOptions {
  signal?: AbortSignal;
  /** Overrides the pool's timeoutMs for this request. */
  timeoutMs?: number;
  /**
   * Called once, as this request settles and before its promise does, with what the pool publishes
   * on `ort-napi:pool:run` for it: its queue wait, its run's time, the batch that served it. The one
   * request's own figures, without a channel subscriber sorting them out (a server's per-request
   * span, say). Should it throw, the request's promise rejects with what it threw. A request refused
   * for its feeds is neither published nor observed: it never counted as one of the pool's.
   */
  observe?: (event: PoolRunEvent) => void;
}

export interface PoolStats {
  /** Requests running now (a batch counts each of its requests). */
  inFlight: number;
  /** Requests waiting: in the pool's queue, or handed to a session and waiting there for a slot. */
  queued: number;
  completed: number;
  failed: number;
  /** Refused at once because the queue was full. */
  rejected: number;
  timedOut: number;
  aborted: number;
  /** End-to-end latency (queue wait + run) over the last 1024 completed requests, in ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  sessions: number;
}

/** What the pool publishes on `ort-napi:pool:run` for each request, whatever its outcome. */
export interface PoolRunEvent {
  pool: string;
  outcome: 'ok' | 'error' | 'timeout' | 'aborted' | 'rejected';
  queueWaitMs: number;
  runMs: number;
  /** Requests in the run that served this one (1 when unbatched). */
  batchSize: number;
  /** Rows in that run. */
  batchRows: number;
  error?: unknown;
}

export const POOL_CHANNEL = 'ort-napi:pool:run';
const events = channel(POOL_CHANNEL);

interface Member {
  session: InferenceSession;
  /** Requests handed to the session: running, or waiting there for one of its slots. */
  active: number;
  /** Runs the session executes at once. */
  capacity: number;
  /** Requests it may hold, running or waiting for a slot: its capacity when batching, more otherwise (see #enqueue). */
  limit: number;
}

interface Job {
  feeds: FeedsType;
  rows: number; // first dim shared by every input, or -1: cannot be batched
  key: string; // the other dims and types: jobs with equal keys can share a batch ('' unbatched)
  enqueuedAt: number;
  startedAt: number;
  /** Set while it waits in its session for a slot (RunTicket): takes it out of that line. */
  leave: ((reason: unknown) => void) | undefined;
  /**
   * Only for a request that can be cancelled (the caller's signal, or a deadline): a request
   * without one costs no controller, listener or ONNX Runtime run options.
   */
  signal: AbortSignal | undefined;
  /** Not checked before it started (it never queued): the session's run() is its only check. */
  unchecked: boolean;
  observe: ((event: PoolRunEvent) => void) | undefined;
  settled: boolean;
  resolve(result: RunResult): void;
  reject(error: unknown): void;
  /** A deadline's own controller (its signal is `signal`, the one the session's run gets) and timer. */
  controller: AbortController | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Requests on one caller's signal: their list, this one's neighbours in it, and its pool. */
  waiting: Waiting | undefined;
  pool: SessionPool<AnySignature> | undefined;
  prev: Job | undefined;
  next: Job | undefined;
}

/**
 * The unsettled requests of one caller's signal, as a list threaded through the jobs themselves:
 * one listener on the signal serves them all.
 */
interface Waiting {
  first: Job | undefined;
}

/**
 * Per request, no closure and no AbortController are made where they can be avoided: in the
 * server, both kept every request's objects alive through young-generation GCs until the next full
 * GC. A closure made per request and called when it settled (`job.cleanup = () => ...`, then
 * `job.cleanup()`): about 0.9 MB promoted per scavenge at one client, scavenges of 2.3 ms instead
 * of 0.25, a heap that grew until a full GC; a deadline's AbortController per request: 0.35 MB
 * more. Measured with --trace-gc-nvp (promoted bytes per scavenge); test/77 counts it. Hence one
 * #release for every job, a timer callback shared by all (#expire), and SpareControllers.
 */

/** The unsettled requests of each caller's signal, of every pool: one listener per signal. */
const waitingBySignal = new WeakMap<AbortSignal, Waiting>();

const LATENCY_WINDOW = 1024;
/** What #publish returns when the request's observer threw nothing (it may throw undefined). */
const NONE = Symbol('none');
const ignore = () => {};

function mergeOptions(base: SessionOptions | undefined, over: SessionOptions | undefined): SessionOptions {
  return { intraOpNumThreads: 1, ...base, ...over };
}

export class SessionPool<S extends ModelSignature = AnySignature> {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly name: string;

  readonly #members: Member[];
  readonly #queue: Job[] = [];
  readonly #maxQueue: number;
  readonly #timeoutMs: number | undefined;
  readonly #batching: Required<BatchingOptions> | undefined;
  #batchTimer: NodeJS.Timeout | undefined;
  #pumping = false;
  #closing: Promise<void> | undefined;
  readonly #token = {};
  #onDrained: (() => void) | undefined;
  #inFlight = 0;
  readonly #counts = { completed: 0, failed: 0, rejected: 0, timedOut: 0, aborted: 0 };
  readonly #latencies = new Float64Array(LATENCY_WINDOW);
  /** Deadlines' controllers, reused once their run is over. */
  readonly #controllers = new SpareControllers();
  #latencyCount = 0;

  /** Loads `size` sessions of the model (in parallel, off the main thread). A session that fails to load fails create. */
  static async create<S extends ModelSignature = AnySignature>(model: string | Uint8Array, options: PoolOptions = {}): Promise<SessionPool<S>> {
    if (!isPlainObject(options)) throw invalid('pool options', 'an object', options);
    checkKeys('pool options', options, ['size', 'sessionOptions', 'placement', 'maxQueue', 'timeoutMs', 'batching', 'name']);
    const size = optionalInteger('pool options.size', options.size, 1, 1024) ?? 1;
    const placement = options.placement as PoolOptions['placement'];
    if (placement !== undefined && typeof placement !== 'function' && !Array.isArray(placement)) {
      throw invalid('pool options.placement', 'an array of session options or a function of the index', placement);
    }
    if (Array.isArray(placement) && placement.length !== size) {
      throw new RangeError(`pool options.placement has ${placement.length} entries but size is ${size}`);
    }
    optionalInteger('pool options.maxQueue', options.maxQueue, 0, 2 ** 31);
    optionalInteger('pool options.timeoutMs', options.timeoutMs, 1, 2 ** 31);
    const batching = normalizeBatching(options.batching);
    const at = (i: number) => (typeof placement === 'function' ? placement(i) : placement?.[i]);
    const settled = await Promise.allSettled(
      Array.from({ length: size }, (_, i) => InferenceSession.create(model as Uint8Array, mergeOptions(options.sessionOptions as SessionOptions | undefined, at(i)))),
    );
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.release() : undefined)));
      throw failure.reason;
    }
    const sessions = settled.map((s) => (s as PromiseFulfilledResult<InferenceSession>).value);
    if (batching) {
      try {
        checkBatchAxes(sessions[0]);
      } catch (error) {
        await Promise.all(sessions.map((s) => s.release()));
        throw error;
      }
    }
    const pool = new SessionPool<S>(sessions, options as PoolOptions, batching);
    watch(pool, { kind: 'SessionPool', what: `a SessionPool of ${describeModel(model)}`, release: 'close()' }, pool.#token);
    return pool;
  }

  private constructor(sessions: InferenceSession[], options: PoolOptions, batching: Required<BatchingOptions> | undefined) {
    this.#members = sessions.map((session) => {
      const capacity = session._maxConcurrentRuns;
      // Alone, unbatched: nothing to choose between, nothing to batch; the session's own queue
      // (maxQueue still bounds it) is the pool's, and a request costs no turn of a second one.
      const limit = batching ? capacity : sessions.length === 1 ? Infinity : 2 * capacity;
      return { session, active: 0, capacity, limit };
    });
    this.inputNames = sessions[0].inputNames;
    this.outputNames = sessions[0].outputNames;
    this.#maxQueue = options.maxQueue ?? 1024;
    this.#timeoutMs = options.timeoutMs;
    this.#batching = batching;
    this.name = options.name ?? 'pool';
  }

  get sessions(): readonly InferenceSession[] {
    return this.#members.map((m) => m.session);
  }

  /** Runs the model on the least-loaded session, queueing when all are busy. */
  run(feeds: SignatureFeeds<S>, options?: PoolRunOptions): Promise<SignatureOutputs<S>> {
    return this.#enqueue(feeds as FeedsType, options) as Promise<SignatureOutputs<S>>;
  }

  #enqueue(feeds: FeedsType, options: PoolRunOptions | undefined): Promise<RunResult> {
    if (this.#closing) return Promise.reject(new ReleasedError('this SessionPool'));
    const signal = options?.signal;
    if (options !== undefined) {
      if (!isPlainObject(options)) return Promise.reject(invalid('pool run options', 'an object', options));
      try {
        checkKeys('pool run options', options, ['signal', 'timeoutMs', 'observe']);
        if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalid('pool run options.signal', 'an AbortSignal', options.signal);
        if (options.observe !== undefined && typeof options.observe !== 'function') throw invalid('pool run options.observe', 'a function', options.observe);
        optionalInteger('pool run options.timeoutMs', options.timeoutMs, 1, 2 ** 31);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const member = this.#pickMember();
    // Whether it will wait: in the pool's queue, or (unbatched) in a session's, for a slot the run
    // there now frees. An unbatched pool hands each of several sessions one such request per slot
    // beyond the runs it executes, and a lone session all of them: prepared and waiting in the
    // session, a request starts the moment a run ends, without a turn of the pool's queue in
    // between, and costs no second check of its feeds. (At 8 callers of a 1 ms model, the pool's
    // queue cost +13 to +74 µs a request over run(): its runners sat idle through that turn.)
    // Several sessions keep the pool's queue beyond that, so that whichever session frees a slot
    // first takes the next request (one on a GPU and one on the CPU, say). Batches form in the
    // pool's queue, so a batching pool hands a session only what it runs now.
    const waits = member === undefined || member.active >= member.capacity;
    // Nothing waits in the pool's queue and a session can take it (and no batch to wait for:
    // unbatched, or batching that never waits, where a lone request would start alone anyway): it
    // goes to the session now, whose run() checks its feeds, once. A request it refuses never
    // counts (see #start).
    if (member && this.#queue.length === 0 && (!this.#batching || this.#batching.maxDelayMs === 0) && (!waits || this.#waiting() < this.#maxQueue)) {
      try {
        signal?.throwIfAborted();
      } catch (error) {
        return Promise.reject(error);
      }
      if (signal === undefined && (options?.timeoutMs ?? this.#timeoutMs) === undefined && options?.observe === undefined) {
        // Nothing can cancel it (or turn its success into a failure): the caller gets the session's
        // own promise. With a slot free it needs no job at all (#runAlone). One that waits in the
        // session for a slot has a job, its ticket; the pool's bookkeeping rides on its promise
        // (first in line, so the next request starts before the caller resumes).
        if (!waits) return this.#runAlone(member, feeds);
        const run = this.#start(member, [this.#makeJob(feeds, options, ignore, ignore, true)])!; // a lone request always starts
        return run instanceof Promise ? run : Promise.resolve(run);
      }
      return new Promise<RunResult>((resolve, reject) => {
        const job = this.#makeJob(feeds, options, resolve, reject, true);
        this.#start(member, [job]);
      });
    }
    // It will wait: checked now, so that a bad request is refused before it queues. The session
    // checks it again when it starts (its memory may have changed while it waited).
    try {
      this.#members[0].session._checkFeeds(feeds);
      if (this.#batching) feeds = toTensors(feeds, this.#members[0].session.inputMetadata);
      signal?.throwIfAborted();
    } catch (error) {
      return Promise.reject(error);
    }
    if (waits && this.#waiting() >= this.#maxQueue) {
      this.#counts.rejected++;
      const error = new PoolBusyError(this.#maxQueue);
      const thrown = this.#publish({ outcome: 'rejected', queueWaitMs: 0, runMs: 0, batchSize: 0, batchRows: 0, error }, (options as PoolRunOptions | undefined)?.observe);
      return Promise.reject(thrown === NONE ? error : thrown);
    }
    return new Promise<RunResult>((resolve, reject) => {
      const job = this.#makeJob(feeds, options, resolve, reject, false);
      this.#queue.push(job);
      this.#pump();
    });
  }

  stats(): PoolStats {
    const n = Math.min(this.#latencyCount, LATENCY_WINDOW);
    const sorted = Array.from(this.#latencies.subarray(0, n)).sort((a, b) => a - b);
    const q = (p: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(n * p))]);
    const waiting = this.#waiting();
    return {
      inFlight: this.#inFlight - (waiting - this.#queue.length),
      queued: waiting,
      ...this.#counts,
      latencyP50Ms: q(0.5),
      latencyP99Ms: q(0.99),
      sessions: this.#members.length,
    };
  }

  /** Stops accepting runs, lets the queued and running ones finish, then releases the sessions. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) unwatch(this.#token);
    this.#closing ??= (async () => {
      if (this.#queue.length > 0 || this.#inFlight > 0) await new Promise<void>((resolve) => (this.#onDrained = resolve));
      this.#clearBatchTimer();
      await Promise.all(this.#members.map((m) => m.session.release()));
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #makeJob(feeds: FeedsType, options: PoolRunOptions | undefined, resolve: (r: RunResult) => void, reject: (e: unknown) => void, unchecked: boolean): Job {
    // First what may throw; then the timer and listener, which only settling the job removes.
    // A request that starts now runs alone: it needs its rows (for the pool's events), not a batch key.
    const { rows, key } = this.#batching && !unchecked ? batchKey(feeds, this.inputNames) : { rows: rowsOf(feeds, this.inputNames), key: '' };
    const timeoutMs = options?.timeoutMs ?? this.#timeoutMs;
    const userSignal = options?.signal;
    const job: Job = {
      feeds,
      rows,
      key,
      enqueuedAt: performance.now(),
      startedAt: 0,
      leave: undefined,
      signal: undefined,
      unchecked,
      observe: options?.observe,
      settled: false,
      resolve,
      reject,
      controller: undefined,
      timer: undefined,
      waiting: undefined,
      pool: undefined,
      prev: undefined,
      next: undefined,
    };
    if (timeoutMs === undefined && userSignal === undefined) return job;
    if (timeoutMs !== undefined) {
      // A deadline needs a controller of the job's own: its signal goes to the session's run, whose
      // ONNX Runtime run options it terminates. The timer ends the job, and aborts that signal.
      job.controller = this.#controllers.take();
      job.signal = job.controller.signal;
      job.timer = setTimeout(SessionPool.#expire, timeoutMs, this, job, timeoutMs);
    } else {
      job.signal = userSignal; // used as it is: the session's run listens to it
    }
    if (userSignal !== undefined) {
      // A caller's signal may outlive many requests (a server passes one per connection): one
      // listener on it serves all of them, of every pool, so a request joins a list (Waiting), not a
      // listener to the signal (an EventTarget listener costs microseconds to add and remove), and
      // the signal gathers nothing.
      let waiting = waitingBySignal.get(userSignal);
      if (!waiting) {
        waiting = { first: undefined };
        waitingBySignal.set(userSignal, waiting);
        SessionPool.#listen(userSignal, waiting);
      }
      job.pool = this;
      job.waiting = waiting;
      job.next = waiting.first;
      if (waiting.first) waiting.first.prev = job;
      waiting.first = job;
    }
    return job;
  }

  /** What a settled job lets go of: its deadline's timer and controller, its place on a caller's signal. */
  #release(job: Job): void {
    if (job.timer !== undefined) clearTimeout(job.timer);
    // Its run is over (or never started): no session listens on the signal any more.
    if (job.controller !== undefined) this.#controllers.giveBack(job.controller);
    const waiting = job.waiting;
    if (waiting === undefined) return;
    if (job.prev) job.prev.next = job.next;
    else waiting.first = job.next;
    if (job.next) job.next.prev = job.prev;
    job.prev = job.next = job.waiting = job.pool = undefined;
  }

  /** A request's deadline has passed (a timer's callback: one function for all requests). */
  static #expire(pool: SessionPool<AnySignature>, job: Job, timeoutMs: number): void {
    job.timer = undefined;
    pool.#abandon(job, new DOMException(`the request timed out after ${timeoutMs} ms`, 'TimeoutError'));
  }

  /**
   * The one listener of a caller's signal, for every pool. Made here, away from any method's
   * closures (an arrow function in an instance method would share that method's context, `this`
   * included): it holds the signal's list and nothing else, so a signal that outlives a pool (one
   * for the whole application, say) keeps no closed pool alive. A request reaches its pool only
   * while it waits.
   */
  static #listen(signal: AbortSignal, waiting: Waiting): void {
    signal.addEventListener('abort', () => {
      // All of them first: each leaves the list as it is answered.
      const waiters: Job[] = [];
      for (let job = waiting.first; job; job = job.next) waiters.push(job);
      for (const waiter of waiters) waiter.pool!.#abandon(waiter, signal.reason);
    }, { once: true });
  }

  /** Aborted or timed out: a queued request leaves the queue now; a running one is answered now (its run's own signal stops the run). */
  #abandon(job: Job, reason: unknown): void {
    if (job.settled) return; // answered already: its controller may be another request's by now
    // A job with a controller of its own runs on that controller's signal: aborting it stops the run.
    if (job.controller !== undefined && !job.controller.signal.aborted) job.controller.abort(reason);
    const at = this.#queue.indexOf(job);
    if (at < 0) {
      const leave = job.leave;
      if (leave !== undefined) {
        // Waiting in its session for a slot: queued, as far as its caller is concerned. The session
        // rejects its run, whose handler then frees the pool's count of it (#start).
        job.startedAt = 0;
        this.#fail(job, reason, 0, 0, 0);
        leave(reason);
      } else if (job.startedAt > 0) {
        this.#fail(job, reason, 0, 1, job.rows);
      }
      return;
    }
    this.#queue.splice(at, 1);
    this.#fail(job, reason, 0, 0, 0);
    // The next request may be ready now; with none left, no batch timer should hold the process.
    if (this.#queue.length === 0) this.#clearBatchTimer();
    else this.#pump();
    this.#maybeDrained();
  }

  /** The least-loaded session that can take a request (run it, or hold it for its next free slot). */
  #pickMember(): Member | undefined {
    let best: Member | undefined;
    for (const m of this.#members) {
      if (m.active < m.limit && (!best || m.active / m.capacity < best.active / best.capacity)) best = m;
    }
    return best;
  }

  /** Requests that wait: in the pool's queue, and in sessions' for a slot. */
  #waiting(): number {
    let waiting = this.#queue.length;
    for (const m of this.#members) if (m.active > m.capacity) waiting += m.active - m.capacity;
    return waiting;
  }

  /** Starts whatever can start: a batch or a single request per free session slot. */
  #pump(): void {
    // Once: a run that executes inline is over within #start, and its #finished calls #pump again.
    // The loop below goes on to the next request instead of a call within a call per request.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const member = this.#pickMember();
        if (!member) return;
        const batch = this.#takeBatch();
        if (!batch) return; // waiting for more requests to batch with
        this.#start(member, batch);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** The next requests to run together, or undefined to wait (a batch may still fill). */
  #takeBatch(): Job[] | undefined {
    const head = this.#queue[0];
    const batching = this.#batching;
    // Unbatchable, or more rows than any batch holds: ONNX Runtime takes it as a run of its own.
    if (!batching || head.rows < 0 || head.rows > batching.maxBatchSize) return this.#dequeue([head]);
    const batch: Job[] = [];
    let rows = 0;
    for (const job of this.#queue) {
      if (job.key !== head.key || job.rows < 0 || rows + job.rows > batching.maxBatchSize) continue;
      batch.push(job);
      rows += job.rows;
      if (rows === batching.maxBatchSize) break;
    }
    const waited = performance.now() - head.enqueuedAt;
    const ready = rows >= batching.maxBatchSize || batching.preferredBatchSizes.includes(rows) || waited >= batching.maxDelayMs;
    if (!ready) {
      this.#batchTimer ??= setTimeout(() => {
        this.#batchTimer = undefined;
        this.#pump();
      }, Math.max(0, batching.maxDelayMs - waited));
      return undefined;
    }
    return this.#dequeue(batch);
  }

  #dequeue(batch: Job[]): Job[] {
    // The head alone (every unbatched start): shift() keeps the queue's elements packed where a
    // splice at an index found by a search rebuilt it (about a microsecond a request at 8 callers).
    if (batch.length === 1 && this.#queue[0] === batch[0]) this.#queue.shift();
    else for (const job of batch) this.#queue.splice(this.#queue.indexOf(job), 1);
    if (this.#queue.length === 0) this.#clearBatchTimer();
    return batch;
  }

  #clearBatchTimer(): void {
    if (this.#batchTimer === undefined) return;
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
  }

  /** Returns the run's result (it ran inline) or its own promise, already handled here: awaiting it is optional. */
  #start(member: Member, taken: Job[]): RunResult | Promise<RunResult> | undefined {
    // A request whose memory was detached while it waited (a BYOB stream read into it, say) fails
    // alone: copied into a batch, its missing rows would shift every other caller's.
    const batch = taken.length === 1 ? taken : taken.filter((job) => {
      const broken = this.inputNames.find((name) => job.feeds[name].data.length !== storageLength(job.feeds[name].type, job.feeds[name].size));
      if (broken !== undefined) this.#fail(job, new TypeError(`input '${broken}' of a queued request no longer holds its data (its ArrayBuffer was detached while it waited)`), 0, 1, job.rows);
      return broken === undefined;
    });
    if (batch.length === 0) return undefined;
    member.active++;
    this.#inFlight += batch.length;
    // A request that never queued starts when it came: one clock read less on the fast path.
    const started = taken.length === 1 && taken[0].unchecked ? taken[0].enqueuedAt : performance.now();
    for (const job of batch) job.startedAt = started;
    const rows = batch.length === 1 ? Math.max(batch[0].rows, 0) : batch.reduce((sum, j) => sum + Math.max(j.rows, 0), 0);
    let run: RunResult | Promise<RunResult>;
    try {
      // A lone job is its run's ticket (RunTicket): should it wait in the session for a slot, it
      // can be taken out of that line, and learns when it started. (A batch waits there only
      // behind runs made on the pool's sessions directly; its requests leave when it has run.)
      run = batch.length === 1 ? member.session._run(batch[0].feeds, batch[0].signal, batch[0]) : member.session._run(concatFeeds(batch, this.inputNames), undefined, undefined);
    } catch (error) {
      run = Promise.reject(error); // its callers are answered below: a throw here would escape from a timer
    }
    if (!(run instanceof Promise)) {
      // It ran inline (a short model's run, with nothing else of the session in flight): answered
      // now, and its slot is free now, not a promise's turn later. Without this, a request that came
      // while the last one's promise was settling found every slot taken and queued (a job, a
      // promise and a second check of its feeds: 3 µs a request at 8 callers of a tiny model).
      this.#ran(member, batch, rows, run);
      return run;
    }
    // Its callers are answered first, then the slot goes to the next request.
    run.then(
      (result) => this.#ran(member, batch, rows, result),
      (error) => {
        const runMs = performance.now() - batch[0].startedAt;
        const job = batch[0];
        if (job.unchecked && !job.settled && this.#refuses(job.feeds)) {
          // Its feeds were bad: refused by the session's checks, as a queued request would have
          // been before queueing; it never counts as a request of the pool.
          job.settled = true;
          this.#release(job);
          job.reject(error);
        } else {
          for (const job of batch) this.#fail(job, job.signal?.aborted ? job.signal.reason : error, runMs, batch.length, rows);
        }
        this.#finished(member, batch.length);
      },
    );
    return run;
  }

  /**
   * A request that nothing can cancel, on a free slot: straight to the session, with no job and no
   * `then`. The session tells the pool how the run ended (RunDone) before the caller's promise
   * settles, so the next request still starts before the caller resumes. Every request to a pool
   * with room takes this path: a job, a reaction on the run's promise and the bookkeeping built for
   * queued requests cost a 1 ms model's request 7 µs over run() on a loop that had waited for the
   * last one (cold caches make each step dear; measured alternating with run()).
   */
  #runAlone(member: Member, feeds: FeedsType): Promise<RunResult> {
    const at = performance.now();
    member.active++;
    this.#inFlight++;
    let run: RunResult | Promise<RunResult>;
    try {
      run = member.session._run(feeds, undefined, undefined, (ok, error) => this.#ranAlone(member, feeds, at, ok, error));
    } catch (error) {
      this.#ranAlone(member, feeds, at, false, error);
      return Promise.reject(error);
    }
    if (run instanceof Promise) return run;
    this.#ranAlone(member, feeds, at, true, undefined);
    return Promise.resolve(run);
  }

  /** How a #runAlone request ended (its caller has the session's answer): counted, published, its slot freed. */
  #ranAlone(member: Member, feeds: FeedsType, at: number, ok: boolean, error: unknown): void {
    const runMs = performance.now() - at;
    if (ok) {
      this.#counts.completed++;
      this.#latencies[this.#latencyCount++ % LATENCY_WINDOW] = runMs;
      if (events.hasSubscribers) this.#publish({ outcome: 'ok', queueWaitMs: 0, runMs, batchSize: 1, batchRows: Math.max(rowsOf(feeds, this.inputNames), 0) });
    } else if (!this.#refuses(feeds)) {
      // Bad feeds (refused by the session's checks) never count, as a queued request's are refused
      // before it queues; any other failure is the run's.
      this.#counts.failed++;
      if (events.hasSubscribers) this.#publish({ outcome: 'error', queueWaitMs: 0, runMs, batchSize: 1, batchRows: Math.max(rowsOf(feeds, this.inputNames), 0), error });
    }
    this.#finished(member, 1);
  }

  /** A run succeeded: its requests are answered, then its slot goes to the next request. */
  #ran(member: Member, batch: Job[], rows: number, result: RunResult): void {
    const now = performance.now();
    // A lone job's start is its session's (it may have waited there for a slot); a batch's jobs share theirs.
    const runMs = now - batch[0].startedAt;
    if (batch.length === 1) this.#succeed(batch[0], result, runMs, 1, rows, now);
    else {
      let parts: RunResult[] | undefined;
      try {
        parts = splitOutputs(result, batch, rows);
      } catch (error) {
        for (const job of batch) this.#fail(job, error, runMs, batch.length, rows);
      }
      parts?.forEach((part, i) => this.#succeed(batch[i], part, runMs, batch.length, rows, now));
    }
    this.#finished(member, batch.length);
  }

  /** A run is over: its session slot is free for the next request. */
  #finished(member: Member, requests: number): void {
    member.active--;
    this.#inFlight -= requests;
    this.#pump();
    this.#maybeDrained();
  }

  /** Whether the session's checks refuse these feeds (asked only of a failed run that skipped them). */
  #refuses(feeds: FeedsType): boolean {
    try {
      this.#members[0].session._checkFeeds(feeds);
      return false;
    } catch {
      return true;
    }
  }

  #succeed(job: Job, result: RunResult, runMs: number, batchSize: number, batchRows: number, now: number): void {
    if (job.settled) return; // aborted or timed out while its batch ran: already answered
    job.settled = true;
    this.#release(job);
    this.#counts.completed++;
    const total = now - job.enqueuedAt;
    this.#latencies[this.#latencyCount++ % LATENCY_WINDOW] = total;
    const thrown = this.#publish({ outcome: 'ok', queueWaitMs: job.startedAt - job.enqueuedAt, runMs, batchSize, batchRows }, job.observe);
    if (thrown === NONE) job.resolve(result);
    else job.reject(thrown);
  }

  #fail(job: Job, error: unknown, runMs: number, batchSize: number, batchRows: number): void {
    if (job.settled) return;
    job.settled = true;
    this.#release(job);
    const name = (error as { name?: string } | undefined)?.name;
    const outcome = name === 'TimeoutError' ? 'timeout' : job.signal?.aborted ? 'aborted' : 'error';
    if (outcome === 'timeout') this.#counts.timedOut++;
    else if (outcome === 'aborted') this.#counts.aborted++;
    else this.#counts.failed++;
    const queueWaitMs = (job.startedAt || performance.now()) - job.enqueuedAt;
    const thrown = this.#publish({ outcome, queueWaitMs, runMs, batchSize, batchRows, error }, job.observe);
    job.reject(thrown === NONE ? error : thrown);
  }

  /** To the channel's subscribers and the request's own observer; returns what the observer threw, or NONE. */
  #publish(fields: Omit<PoolRunEvent, 'pool'>, observe?: (event: PoolRunEvent) => void): unknown {
    if (!events.hasSubscribers && observe === undefined) return NONE;
    const event: PoolRunEvent = { pool: this.name, ...fields };
    if (events.hasSubscribers) events.publish(event);
    if (observe === undefined) return NONE;
    try {
      observe(event);
      return NONE;
    } catch (error) {
      return error;
    }
  }

  #maybeDrained(): void {
    if (this.#onDrained && this.#queue.length === 0 && this.#inFlight === 0) {
      const done = this.#onDrained;
      this.#onDrained = undefined;
      done();
    }
  }
}

function normalizeBatching(value: unknown): Required<BatchingOptions> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw invalid('pool options.batching', 'an object', value);
  checkKeys('pool options.batching', value, ['maxBatchSize', 'maxDelayMs', 'preferredBatchSizes']);
  const maxBatchSize = optionalInteger('pool options.batching.maxBatchSize', value.maxBatchSize, 1, 2 ** 20);
  if (maxBatchSize === undefined) throw invalid('pool options.batching.maxBatchSize', 'an integer', undefined);
  const maxDelayMs = value.maxDelayMs;
  if (typeof maxDelayMs !== 'number' || !(maxDelayMs >= 0)) throw invalid('pool options.batching.maxDelayMs', 'a number of milliseconds ≥ 0', maxDelayMs);
  const preferred = value.preferredBatchSizes ?? [];
  if (!Array.isArray(preferred)) throw invalid('pool options.batching.preferredBatchSizes', 'an array of integers', preferred);
  preferred.forEach((p: unknown, i) => optionalInteger(`pool options.batching.preferredBatchSizes[${i}]`, p, 1, maxBatchSize));
  return { maxBatchSize, maxDelayMs, preferredBatchSizes: preferred as number[] };
}

/** Refuses batching for a model whose inputs or outputs do not all start with a dynamic dim. */
function checkBatchAxes(session: InferenceSession): void {
  const lacking: string[] = [];
  const check = (kind: string, meta: InferenceSession['inputMetadata'][number]) => {
    if (!meta.isTensor || meta.shape.length === 0 || (typeof meta.shape[0] === 'number' && meta.shape[0] >= 0)) {
      lacking.push(`${kind} '${meta.name}' (shape [${meta.isTensor ? meta.shape.join(',') : meta.kind}])`);
    }
  };
  session.inputMetadata.forEach((m) => check('input', m));
  session.outputMetadata.forEach((m) => check('output', m));
  if (lacking.length > 0) {
    throw new TypeError(`batching needs a dynamic first dim on every input and output; these have none: ${lacking.join(', ')}`);
  }
}

/**
 * Tensor-likes that run() takes (onnxruntime-common's Tensor, a plain { type, data, dims } with an
 * array of numbers) as Tensors of this package, so that a batch can concatenate their data.
 * Called once the feeds passed the session's checks; other values (sequences, maps, optionals) stay.
 */
function toTensors(feeds: FeedsType, metadata: readonly ValueMetadata[]): FeedsType {
  let copy: Record<string, Tensor> | undefined;
  for (const meta of metadata) {
    const value: unknown = feeds[meta.name];
    if (!meta.isTensor || value instanceof Tensor) continue;
    const like = value as { type: TensorType; data: never; dims: readonly number[] };
    copy ??= { ...feeds };
    copy[meta.name] = new Tensor(like.type, like.data, like.dims);
  }
  return copy ?? feeds;
}

/** A request's rows for the pool's events: its inputs' shared first dim, or -1. */
function rowsOf(feeds: FeedsType, names: readonly string[]): number {
  // Read before the session's check on a request that starts at once: feeds may be anything there.
  if (typeof feeds !== 'object' || feeds === null) return -1;
  let rows = -1;
  for (const name of names) {
    const t: unknown = feeds[name];
    const dims = (t as { dims?: unknown } | null)?.dims;
    if (!Array.isArray(dims) || dims.length === 0) return -1;
    if (rows === -1) rows = dims[0];
    else if (dims[0] !== rows) return -1;
  }
  return rows;
}

/** A request's rows (its inputs' shared first dim, or -1) and what must match for it to share a batch. */
function batchKey(feeds: FeedsType, names: readonly string[]): { rows: number; key: string } {
  let rows = -1;
  let key = '';
  for (const name of names) {
    const t = feeds[name]; // not always a Tensor: see below
    // Sequences, maps and optionals (given or left out) have no rows to lay end to end; packed 4-bit
    // rows may share a byte. Such requests run alone.
    if (!(t instanceof Tensor) || t.dims.length === 0 || ELEMENT_TYPES[t.type].perUnit) return { rows: -1, key: '' };
    const dims = t.dims;
    if (rows === -1) rows = dims[0];
    else if (dims[0] !== rows) return { rows: -1, key: '' };
    key += name + ':' + t.type;
    for (let i = 1; i < dims.length; i++) key += ',' + dims[i];
    key += ';';
  }
  return { rows, key };
}

/** One copy: each input's rows laid end to end in a new array. */
function concatFeeds(batch: Job[], names: readonly string[]): FeedsType {
  const feeds: Record<string, Tensor> = {};
  const rows = batch.reduce((sum, j) => sum + j.rows, 0);
  for (const name of names) {
    const first = batch[0].feeds[name];
    const dims = [rows, ...first.dims.slice(1)];
    if (first.type === 'string') {
      feeds[name] = new Tensor('string', batch.flatMap((j) => j.feeds[name].data as string[]), dims);
      continue;
    }
    const perRow = first.dims.slice(1).reduce((a, b) => a * b, 1);
    // The element type's own array: data may be a subclass (a Buffer) whose constructor takes no length.
    const out = new ELEMENT_TYPES[first.type].array!(perRow * rows) as unknown as { set(a: ArrayLike<unknown>, o: number): void };
    let offset = 0;
    for (const job of batch) {
      const data = job.feeds[name].data as ArrayLike<unknown>;
      out.set(data, offset);
      offset += data.length;
    }
    feeds[name] = new Tensor(first.type, out as never, dims);
  }
  return feeds;
}

/**
 * Each request's own rows, copied into memory of its own: a view over the batched output would let
 * one caller read, through data.buffer, the rows of the others, and write into their results.
 */
function splitOutputs(result: RunResult, batch: Job[], rows: number): RunResult[] {
  const parts: RunResult[] = batch.map(() => ({}));
  for (const [name, tensor] of Object.entries(result)) {
    if (tensor.dims[0] !== rows) {
      throw new Error(`output '${name}' came back with dims ${dimsText(tensor.dims)}, not ${rows} rows: it cannot be split between the batched requests`);
    }
    const perRow = rows === 0 ? 0 : tensor.size / rows;
    let row = 0;
    batch.forEach((job, i) => {
      const start = row * perRow;
      const end = (row + job.rows) * perRow;
      const data = tensor.data.slice(start, end); // a new array (and ArrayBuffer) either way
      parts[i][name] = new Tensor(tensor.type, data as never, [job.rows, ...tensor.dims.slice(1)]);
      row += job.rows;
    });
  }
  return parts;
}
