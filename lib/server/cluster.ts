// server/cluster.ts: `ort-napi serve --workers N`: N processes (node:cluster) serving the same
// models on the same ports.
//
// Why: one event loop does all of a request's HTTP and JSON work. For a small model that work, not
// the model, bounds the requests a second while the other cores sit idle (measured on 2 cores, 64
// clients of the 3-number model: the server's main thread busy all the time, its runner thread at
// 1%, 8,400 requests/s; two workers did 10,000-11,000). Each worker loads the models itself (their
// memory times N) and has its own pools (batches form within a worker), so a model whose runs
// keep the cores busy gains nothing from workers: they are for small models and many cores.
//
// The primary only supervises: it forks the workers, which listen on the same ports (the primary
// holds the listening sockets and deals out connections, node:cluster's default); it restarts a
// worker that dies, and turns SIGTERM into a drain of every worker. What the workers share goes
// through it:
// - GET /metrics on any worker answers for all of them (prom-client's AggregatorRegistry: counters
//   and histograms summed, gauges too), and so do the statistics (Triton's extension: each worker's
//   figures, asked of each by the primary, summed there);
// - a repository load or unload is done on every worker before it is answered, and a worker
//   started later carries out the loads and unloads made before it, before it listens.
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ServerAddresses } from './index.js';
import { mergeStats, type ModelStat, type StatsSelection } from './statistics.js';

const READY = 'ort-napi:ready';
const METRICS = 'ort-napi:metrics';
const REPOSITORY = 'ort-napi:repository';
const REPLY = 'ort-napi:reply';
const HISTORY = 'ort-napi:history';
/** A worker asks the primary for every worker's statistics; the primary asks each worker for its own. */
const STATS = 'ort-napi:stats';
const LOCAL_STATS = 'ort-napi:local-stats';
/** Set in the workers' environment: createServer() coordinates through the primary (isServeWorker). */
const WORKER_ENV = 'ORT_NAPI_SERVE_WORKER';

type Op = 'load' | 'unload';
type Message =
  | { type: typeof READY; addresses: ServerAddresses }
  | { type: typeof METRICS; id: number }
  | { type: typeof HISTORY; id: number }
  | { type: typeof STATS; id: number; selection: StatsSelection }
  | { type: typeof LOCAL_STATS; id: number; selection: StatsSelection }
  | { type: typeof REPOSITORY; id: number; op: Op; name: string }
  | { type: typeof REPLY; id: number; text?: string; error?: string };

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && (value as { type: string }).type.startsWith('ort-napi:');
}

/** What a server does through the other workers (server/index.ts); alone, it does it itself. */
export interface Coordination {
  /** The Prometheus text of every worker's registry together. */
  metrics(local: Registry): Promise<string>;
  /** Loads or unloads a model here (`local`) and, that done, on every other worker. */
  repository(op: Op, name: string, local: () => Promise<void>): Promise<void>;
  /** The statistics of the versions selected, summed over every worker (each reports those it has loaded). */
  statistics(selection: StatsSelection): Promise<ModelStat[]>;
  /**
   * Before it listens: the loads and unloads the other workers were told of, carried out here too
   * (a worker started after them, a replacement say, would otherwise serve what they unloaded).
   * Resolves with what failed, one line each.
   */
  catchUp(): Promise<string[]>;
}

/**
 * How many CPUs this process may use: the cores it may run on (its affinity), capped by a cgroup's
 * CPU quota where one is set, as in a container with a CPU limit (Kubernetes' `limits.cpu`), which
 * the affinity does not show: `--workers auto` on a 64-core node under a 2-CPU limit is 2 workers,
 * not 64 copies of every model.
 */
export function availableCpus(read: (path: string) => string | undefined = readText): number {
  const cores = availableParallelism();
  const quota = cgroupCpuQuota(read);
  return quota === undefined ? cores : Math.max(1, Math.min(cores, Math.ceil(quota)));
}

/** A cgroup's CPU quota in CPUs (v2 cpu.max, else v1 cfs_quota_us / cfs_period_us), or undefined for none. */
export function cgroupCpuQuota(read: (path: string) => string | undefined = readText): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 && v2.length === 2 && v2[0] !== 'max') {
    const quota = Number(v2[0]);
    const period = Number(v2[1]);
    if (quota > 0 && period > 0) return quota / period;
  }
  const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim());
  const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
  return quota > 0 && period > 0 ? quota / period : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

// ---- in a worker

/** Requests from this worker to the primary, answered by id. */
class Requests {
  #next = 1;
  readonly #pending = new Map<number, { resolve(text: string | undefined): void; reject(error: Error): void }>();

  constructor() {
    // The primary gone (killed, say): nothing asked of it will be answered.
    process.on('disconnect', () => this.#failAll('the cluster primary went away'));
  }

  ask(message: { type: typeof METRICS } | { type: typeof HISTORY } | { type: typeof STATS; selection: StatsSelection } | { type: typeof REPOSITORY; op: Op; name: string }): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      if (!process.connected) return reject(new Error('the cluster primary is gone'));
      const id = this.#next++;
      this.#pending.set(id, { resolve, reject });
      process.send!({ ...message, id });
    });
  }

  answer(message: Extract<Message, { type: typeof REPLY }>): void {
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    this.#pending.delete(message.id);
    if (message.error !== undefined) pending.reject(new Error(message.error));
    else pending.resolve(message.text);
  }

  #failAll(why: string): void {
    for (const pending of this.#pending.values()) pending.reject(new Error(why));
    this.#pending.clear();
  }
}

/**
 * A worker's side: its registry offered to the primary's aggregation, and the primary's requests to
 * load or unload a model (another worker's) carried out with `apply`.
 */
export function workerCoordination(registry: Registry | undefined, apply: (op: Op, name: string) => Promise<void>, stats: (selection: StatsSelection) => ModelStat[]): Coordination {
  if (!cluster.isWorker) throw new Error('workerCoordination() is for a cluster worker');
  // The primary asks each worker for its metrics as JSON (prom-client's own protocol); this
  // constructor adds the worker's listener for that. A worker asked before it got this far (just
  // forked) does not answer, and that scrape fails after prom-client's timeout (5 s).
  if (registry) AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
  const requests = new Requests();
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === REPLY) requests.answer(message);
    else if (message.type === REPOSITORY) {
      apply(message.op, message.name).then(
        () => process.send?.({ type: REPLY, id: message.id }),
        (error: Error) => process.send?.({ type: REPLY, id: message.id, error: error.message }),
      );
    } else if (message.type === LOCAL_STATS) {
      process.send?.({ type: REPLY, id: message.id, text: JSON.stringify(stats(message.selection)) } satisfies Message);
    }
  });
  return {
    async metrics() {
      return (await requests.ask({ type: METRICS })) ?? '';
    },
    async statistics(selection) {
      return JSON.parse((await requests.ask({ type: STATS, selection })) ?? '[]') as ModelStat[];
    },
    async catchUp() {
      const changes = JSON.parse((await requests.ask({ type: HISTORY })) ?? '[]') as { op: Op; name: string }[];
      const failed: string[] = [];
      for (const { op, name } of changes) {
        try {
          await apply(op, name);
        } catch (error) {
          failed.push(`${op} '${name}': ${(error as Error).message}`);
        }
      }
      return failed;
    },
    async repository(op, name, local) {
      await local();
      try {
        await requests.ask({ type: REPOSITORY, op, name });
      } catch (error) {
        throw new Error(`${op === 'load' ? 'loaded' : 'unloaded'} '${name}' on this worker, but another failed: ${(error as Error).message}`);
      }
    },
  };
}

/** Whether this process is a worker that startPrimary() forked. */
export function isServeWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === '1';
}

/** Tells the primary that this worker listens (and where). */
export function reportReady(addresses: ServerAddresses): void {
  process.send?.({ type: READY, addresses } satisfies Message);
}

// ---- in the primary

export interface PrimaryOptions {
  workers: number;
  /** Where lines for the operator go (stderr). */
  log(line: string): void;
  /** Restarts allowed within a minute before the primary gives up and stops (default 5). */
  restartsPerMinute?: number;
}

export interface Primary {
  /** Resolves once every worker listens; rejects when one exits first (the others are stopped). */
  readonly started: Promise<ServerAddresses>;
  /** Drains every worker (SIGTERM to each) and resolves with 0 once all exited cleanly, else 1. */
  stop(): Promise<number>;
  /** Kills every worker at once (SIGKILL). */
  kill(): void;
  /** Resolves when the primary stopped on its own (workers restarting too often): its exit status. */
  readonly gaveUp: Promise<number>;
}

/** Forks the workers (this script again, with the same arguments) and supervises them. */
export function startPrimary(options: PrimaryOptions): Primary {
  if (!cluster.isPrimary) throw new Error('startPrimary() is for the cluster primary');
  const aggregator = new AggregatorRegistry();
  const ready = new Set<Worker>();
  // Workers that have the repository changes so far (catchUp), and are told of the next ones.
  const informed = new Set<Worker>();
  // Loads and unloads made through any worker, in order: a worker started later replays them.
  const history: { op: Op; name: string }[] = [];
  let nextId = 1;
  // Requests the primary made of workers (a repository change, their statistics), answered by id.
  const pending = new Map<number, { worker: Worker; done(error?: string, text?: string): void }>();
  let stopping: Promise<number> | undefined;
  let started = false;
  const restarts: number[] = [];
  const limit = options.restartsPerMinute ?? 5;
  let exitStatus = 0;
  const draining = new Set<Worker>(); // the workers that listened when the drain began

  let resolveStarted!: (addresses: ServerAddresses) => void;
  let rejectStarted!: (error: Error) => void;
  const startedPromise = new Promise<ServerAddresses>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  let resolveGaveUp!: (status: number) => void;
  const gaveUp = new Promise<number>((resolve) => (resolveGaveUp = resolve));
  let addresses: ServerAddresses | undefined;

  const send = (worker: Worker, message: Message) => {
    if (worker.isConnected()) worker.send(message);
  };

  /** Asks every informed worker but `origin` to carry out a repository change; resolves with the first error. */
  const broadcast = (origin: Worker | undefined, op: Op, name: string): Promise<string | undefined> => {
    const targets = [...informed].filter((w) => w !== origin);
    return Promise.all(
      targets.map(
        (worker) =>
          new Promise<string | undefined>((resolve) => {
            const id = nextId++;
            pending.set(id, { worker, done: resolve });
            send(worker, { type: REPOSITORY, id, op, name });
          }),
      ),
    ).then((errors) => errors.find((e) => e !== undefined));
  };

  /**
   * Every listening worker's statistics of a selection, summed. A worker that exits before it
   * answers is left out: its figures went with it (a replacement starts from zero).
   */
  const gatherStats = (selection: StatsSelection): Promise<ModelStat[]> =>
    Promise.all(
      [...ready].map(
        (worker) =>
          new Promise<ModelStat[]>((resolve) => {
            const id = nextId++;
            pending.set(id, { worker, done: (error, text) => resolve(error === undefined && text !== undefined ? (JSON.parse(text) as ModelStat[]) : []) });
            send(worker, { type: LOCAL_STATS, id, selection });
          }),
      ),
    ).then((reports) => mergeStats(selection, reports));

  const onMessage = (worker: Worker, message: unknown) => {
    if (!isMessage(message)) return;
    switch (message.type) {
      case READY: {
        addresses ??= message.addresses;
        ready.add(worker);
        if (started) options.log(`ort-napi serve: worker ${worker.id} (pid ${worker.process.pid}) listening`);
        if (!started && ready.size === options.workers) {
          started = true;
          resolveStarted(addresses);
        }
        return;
      }
      case METRICS:
        aggregator.clusterMetrics().then(
          (text) => send(worker, { type: REPLY, id: message.id, text }),
          (error: Error) => send(worker, { type: REPLY, id: message.id, error: `the workers' metrics could not be gathered: ${error.message}` }),
        );
        return;
      case STATS:
        gatherStats(message.selection).then(
          (merged) => send(worker, { type: REPLY, id: message.id, text: JSON.stringify(merged) }),
          (error: Error) => send(worker, { type: REPLY, id: message.id, error: `the workers' statistics could not be gathered: ${error.message}` }),
        );
        return;
      case HISTORY:
        // From now on it is told of every change as it happens.
        informed.add(worker);
        send(worker, { type: REPLY, id: message.id, text: JSON.stringify(history) });
        return;
      case REPOSITORY:
        history.push({ op: message.op, name: message.name });
        broadcast(worker, message.op, message.name).then((error) => send(worker, { type: REPLY, id: message.id, ...(error === undefined ? {} : { error }) }));
        return;
      case REPLY: {
        const request = pending.get(message.id);
        if (!request) return;
        pending.delete(message.id);
        request.done(message.error, message.text);
        return;
      }
    }
  };

  const fork = () => {
    const worker = cluster.fork({ [WORKER_ENV]: '1' });
    worker.on('message', (message: unknown) => onMessage(worker, message));
    worker.on('exit', (code, signal) => onExit(worker, code, signal));
    return worker;
  };

  const onExit = (worker: Worker, code: number | null, signal: string | null) => {
    ready.delete(worker);
    informed.delete(worker);
    // Whatever it was asked and did not answer, it never will.
    for (const [id, request] of pending) {
      if (request.worker !== worker) continue;
      pending.delete(id);
      request.done(`worker ${worker.id} exited before it answered`);
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (stopping) {
      // A worker still starting had accepted nothing: how it ended says nothing of the drain.
      if (code !== 0 && draining.has(worker)) exitStatus = 1;
      return;
    }
    if (!started) {
      // One could not start (a model that does not load, a port taken): neither can the others.
      rejectStarted(new Error(`a worker exited (${how}) before it listened`));
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0] < now - 60_000) restarts.shift();
    if (restarts.length > limit) {
      options.log(`ort-napi serve: worker ${worker.id} (pid ${worker.process.pid}) exited (${how}); ${restarts.length} workers exited within a minute: stopping`);
      void primary.stop().then(() => resolveGaveUp(1));
      return;
    }
    options.log(`ort-napi serve: worker ${worker.id} (pid ${worker.process.pid}) exited (${how}); starting another`);
    fork();
  };

  const primary: Primary = {
    started: startedPromise,
    gaveUp,
    stop() {
      stopping ??= (async () => {
        for (const worker of ready) draining.add(worker);
        const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
        await Promise.all(
          workers.map(
            (worker) =>
              new Promise<void>((resolve) => {
                if (worker.isDead()) return resolve();
                worker.once('exit', () => resolve());
                worker.process.kill('SIGTERM');
              }),
          ),
        );
        return exitStatus;
      })();
      return stopping;
    },
    kill() {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    },
  };

  for (let i = 0; i < options.workers; i++) fork();
  return primary;
}
