// repository.ts: the models a server serves: a model repository directory (one folder per model,
// numbered version folders holding model.onnx, an optional config.json) or models given in code,
// each version behind its own SessionPool; load, unload and the repository index.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SessionPool, type BatchingOptions, type ExecutionProviderConfig, type SessionOptions } from '../index.js';
import { datatypeOf, quoted, type Datatype } from './codec.js';
import { ServerError } from './errors.js';
import type { Metrics } from './metrics.js';
import { Statistics, VersionStatistics, type ModelStat, type StatsSelection } from './statistics.js';

/** A model's config.json (or `config` in code): how its pool runs. Every field is optional. */
export interface ModelConfig {
  /** Which numbered versions of a repository model to load: the highest (default), all, or these. */
  versions?: 'latest' | 'all' | number[];
  /** Sessions in the pool (SessionPool's `size`). */
  pool?: { size?: number };
  /** Requests that may wait; past it requests fail with 429 / RESOURCE_EXHAUSTED (default 1024). */
  maxQueue?: number;
  /** A default deadline per request, queueing included; a request's own deadline overrides it. */
  timeoutMs?: number;
  /** Dynamic batching: requests concatenated along the first dim (needs a dynamic first dim). */
  batching?: BatchingOptions;
  /** Execution providers in priority order (SessionOptions.executionProviders). */
  providers?: ExecutionProviderConfig[];
  /** Session options of every session (intraOpNumThreads defaults to 1, as in SessionPool). */
  sessionOptions?: SessionOptions;
}

/** A model given in code: its file (or bytes), its version number (default 1), its config. */
export interface ModelSource {
  model: string | Uint8Array;
  version?: number;
  config?: ModelConfig;
}

export interface TensorInfo {
  name: string;
  /** ONNX Runtime's element type name. */
  type: string;
  /** The v2 datatype, or undefined where v2 has none (float8, int4). */
  datatype: Datatype | undefined;
  /** -1 where a dim is dynamic. */
  shape: number[];
  /** An ONNX optional of a tensor: an input a request may leave out, an output a response may lack. */
  optional: boolean;
}

export type ModelState = 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

/** One loaded version of a model. */
export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly pool: SessionPool;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly timeoutMs: number | undefined;
  /** Its config's dynamic batching, if any (what Triton's model configuration shows). */
  readonly batching: BatchingOptions | undefined;
  /** Its metric labels, one object for its lifetime. */
  readonly labels: { readonly model: string; readonly version: string };
  /** What the statistics extension reports of it, since it was loaded. */
  readonly stats: VersionStatistics;
}

interface ModelEntry {
  name: string;
  state: ModelState;
  reason: string;
  versions: Map<string, ModelVersion>;
  /** Serialises load and unload of this model. */
  busy: Promise<void>;
}

/**
 * The parameters of a load or unload request (Triton's): refused unless honoured, never ignored (a
 * client that sends a config must not be told it loaded with it). `parameters` is the request's
 * map: JSON over REST, ModelRepositoryParameter messages over gRPC.
 */
export function checkRepositoryParameters(op: 'load' | 'unload', parameters: unknown): void {
  if (parameters === undefined || parameters === null) return;
  if (typeof parameters !== 'object' || Array.isArray(parameters)) throw new ServerError('INVALID_ARGUMENT', `the ${op} request's parameters must be an object`);
  for (const key of Object.keys(parameters)) {
    if (op === 'unload' && key === 'unload_dependents') continue; // no ensembles: a model has no dependents
    const why =
      op === 'load'
        ? "a model loads from its folder in the repository, with that folder's config.json (Triton's 'config' and 'file:' parameters are not taken)"
        : "the only one is 'unload_dependents'";
    throw new ServerError('INVALID_ARGUMENT', `the ${op} parameter ${quoted(key)} is not supported: ${why}`);
  }
}

export type Log = (level: 'info' | 'error', fields: object, message: string) => void;

const CONFIG_KEYS = ['versions', 'pool', 'maxQueue', 'timeoutMs', 'batching', 'providers', 'sessionOptions'];
let nextRepository = 0;

function configError(where: string, message: string): ServerError {
  return new ServerError('INVALID_ARGUMENT', `${where}: ${message}`);
}

/** Checks a model config's own fields; SessionPool and the session check what they take. */
export function checkConfig(where: string, config: unknown): ModelConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw configError(where, 'the config must be a JSON object');
  const c = config as Record<string, unknown>;
  for (const key of Object.keys(c)) if (!CONFIG_KEYS.includes(key)) throw configError(where, `unknown field '${key}' (known: ${CONFIG_KEYS.join(', ')})`);
  const v = c.versions;
  if (v !== undefined && v !== 'latest' && v !== 'all' && !(Array.isArray(v) && v.length > 0 && v.every((n) => Number.isSafeInteger(n) && n >= 0))) {
    throw configError(where, `versions must be "latest", "all" or a non-empty array of version numbers, got ${JSON.stringify(v)}`);
  }
  if (c.pool !== undefined) {
    const pool = c.pool as Record<string, unknown>;
    if (typeof pool !== 'object' || pool === null || Object.keys(pool).some((k) => k !== 'size')) throw configError(where, 'pool must be an object { "size": n }');
  }
  if (c.timeoutMs !== undefined && !(Number.isSafeInteger(c.timeoutMs) && (c.timeoutMs as number) >= 1)) throw configError(where, `timeoutMs must be a positive integer of milliseconds, got ${JSON.stringify(c.timeoutMs)}`);
  if (c.providers !== undefined && !Array.isArray(c.providers)) throw configError(where, 'providers must be an array');
  for (const key of ['batching', 'sessionOptions'] as const) {
    if (c[key] !== undefined && (typeof c[key] !== 'object' || c[key] === null || Array.isArray(c[key]))) throw configError(where, `${key} must be an object`);
  }
  return c as ModelConfig;
}

function tensorInfos(metadata: SessionPool['sessions'][number]['inputMetadata']): TensorInfo[] {
  const shape = (dims: readonly (number | string)[]) => dims.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  return metadata.map((m) => {
    if (m.isTensor) return { name: m.name, type: m.type, datatype: datatypeOf(m.type), shape: shape(m.shape), optional: false };
    // An optional tensor travels as its tensor when present, and not at all when absent.
    if (m.kind === 'optional' && m.element.kind === 'tensor') return { name: m.name, type: m.element.type, datatype: datatypeOf(m.element.type), shape: shape(m.element.shape), optional: true };
    return { name: m.name, type: m.kind, datatype: undefined, shape: [], optional: false };
  });
}

export class Repository {
  readonly #dir: string | undefined;
  readonly #sources: Map<string, ModelSource>;
  readonly #models = new Map<string, ModelEntry>();
  readonly #metrics: Metrics | undefined;
  readonly #statistics = new Statistics();
  readonly #prefix = `ort-napi-server-${++nextRepository}`;
  readonly #log: Log;

  constructor(source: { repository?: string; models?: Record<string, string | ModelSource> }, metrics: Metrics | undefined, log: Log) {
    this.#dir = source.repository === undefined ? undefined : resolve(source.repository);
    this.#sources = new Map();
    for (const [name, given] of Object.entries(source.models ?? {})) {
      const spec = typeof given === 'string' || given instanceof Uint8Array ? { model: given } : given;
      if (typeof spec !== 'object' || spec === null || (typeof spec.model !== 'string' && !(spec.model instanceof Uint8Array))) {
        throw new TypeError(`models['${name}'] must be a model path, model bytes, or { model, version?, config? }`);
      }
      if (spec.version !== undefined && (!Number.isSafeInteger(spec.version) || spec.version < 0)) throw new TypeError(`models['${name}'].version must be a non-negative integer`);
      if (spec.config !== undefined) checkConfig(`models['${name}'].config`, spec.config);
      this.#sources.set(name, spec);
    }
    if (this.#dir !== undefined && !(existsSync(this.#dir) && statSync(this.#dir).isDirectory())) {
      throw new TypeError(`the model repository ${this.#dir} is not a directory`);
    }
    this.#metrics = metrics;
    this.#log = log;
  }

  /** The models the repository holds (loaded or not). */
  names(): string[] {
    const names = new Set(this.#sources.keys());
    if (this.#dir !== undefined) {
      for (const entry of readdirSync(this.#dir, { withFileTypes: true })) if (entry.isDirectory() && !entry.name.startsWith('.')) names.add(entry.name);
    }
    return [...names].sort();
  }

  /** Loads every model; the first failure fails it (after the others are loaded or failed). */
  async loadAll(): Promise<void> {
    const results = await Promise.allSettled(this.names().map((name) => this.load(name)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** (Re)loads a model: its new versions are loaded first, then they replace the old ones, which drain. */
  load(name: string): Promise<void> {
    let entry: ModelEntry;
    try {
      entry = this.#entry(name, true)!;
    } catch (error) {
      return Promise.reject(error); // a promise either way, as callers of loadModel() expect
    }
    const run = entry.busy.then(async () => {
      const plans = this.#plan(name);
      entry.state = entry.versions.size > 0 ? entry.state : 'LOADING';
      const loaded = new Map<string, ModelVersion>();
      try {
        for (const plan of plans) loaded.set(plan.version, await this.#loadVersion(name, plan.version, plan.model, plan.config));
      } catch (error) {
        await Promise.all([...loaded.values()].map((v) => this.#closeVersion(v)));
        if (entry.versions.size === 0) entry.state = 'UNAVAILABLE';
        entry.reason = (error as Error).message;
        this.#log('error', { model: name, err: (error as Error).message }, 'model failed to load');
        throw error instanceof ServerError ? error : new ServerError('INVALID_ARGUMENT', `model '${name}' failed to load: ${(error as Error).message}`, { cause: error });
      }
      const old = entry.versions;
      entry.versions = loaded;
      entry.state = 'READY';
      entry.reason = '';
      this.#log('info', { model: name, versions: [...loaded.keys()] }, 'model loaded');
      await Promise.all([...old.values()].map((v) => this.#closeVersion(v)));
    });
    entry.busy = run.catch(() => undefined);
    return run;
  }

  /** Unloads a model: new requests fail at once (503), accepted ones finish, then its sessions are released. */
  unload(name: string): Promise<void> {
    const entry = this.#entry(name, false);
    if (!entry) return Promise.reject(new ServerError('NOT_FOUND', `unknown model '${name}'`));
    const run = entry.busy.then(async () => {
      const old = entry.versions;
      entry.versions = new Map();
      entry.state = 'UNAVAILABLE';
      entry.reason = 'unloaded';
      await Promise.all([...old.values()].map((v) => this.#closeVersion(v)));
      this.#log('info', { model: name }, 'model unloaded');
    });
    entry.busy = run.catch(() => undefined);
    return run;
  }

  /** The repository index (Triton's repository extension): every model with its state. */
  index(readyOnly = false): { name: string; version?: string; state: ModelState; reason: string }[] {
    const out: { name: string; version?: string; state: ModelState; reason: string }[] = [];
    for (const name of this.names()) {
      const entry = this.#models.get(name);
      if (!entry || entry.versions.size === 0) {
        if (!readyOnly) out.push({ name, state: entry?.state ?? 'UNAVAILABLE', reason: entry?.reason || 'not loaded' });
        continue;
      }
      for (const version of entry.versions.keys()) out.push({ name, version, state: entry.state, reason: entry.reason });
    }
    return out;
  }

  /** The version a request names (or the highest loaded one); NOT_FOUND / UNAVAILABLE otherwise. */
  resolve(name: string, version?: string): ModelVersion {
    const entry = this.#models.get(name);
    if (!entry) throw new ServerError('NOT_FOUND', `unknown model ${quoted(name)}`); // a client's name: shortened if long
    if (entry.versions.size === 0) throw new ServerError('UNAVAILABLE', `model '${name}' is not loaded (${entry.state.toLowerCase()}${entry.reason ? `: ${entry.reason}` : ''})`);
    if (version === undefined || version === '') return [...entry.versions.values()].at(-1)!;
    const found = entry.versions.get(version);
    if (!found) throw new ServerError('NOT_FOUND', `model '${name}' has no version ${quoted(version)} (loaded: ${[...entry.versions.keys()].join(', ')})`);
    return found;
  }

  /** The loaded versions of a model, lowest first. */
  versions(name: string): string[] {
    return [...(this.#models.get(name)?.versions.keys() ?? [])];
  }

  /** Drains and releases everything. */
  async close(): Promise<void> {
    await Promise.all([...this.#models.keys()].map((name) => this.unload(name).catch(() => undefined)));
    this.#statistics.close();
  }

  /**
   * The loaded versions a statistics request asks for: every model's (no name), one model's (no
   * version), or one; an unknown or unloaded model, or version, is the error resolve() gives.
   */
  statsSelection(name?: string, version?: string): StatsSelection {
    let versions: ModelVersion[];
    if (name === undefined || name === '') versions = [...this.#models.values()].flatMap((entry) => [...entry.versions.values()]).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : Number(a.version) - Number(b.version)));
    else if (version !== undefined && version !== '') versions = [this.resolve(name, version)];
    else {
      this.resolve(name); // unknown or unloaded: its error
      versions = [...this.#models.get(name)!.versions.values()];
    }
    return versions.map((v) => ({ name: v.name, version: v.version }));
  }

  /** This server's statistics of the versions selected (those it has loaded), in the selection's order. */
  statsOf(selection: StatsSelection): ModelStat[] {
    const out: ModelStat[] = [];
    for (const { name, version } of selection) {
      const found = this.#models.get(name)?.versions.get(version);
      if (found) out.push(found.stats.toJSON());
    }
    return out;
  }

  #entry(name: string, create: boolean): ModelEntry | undefined {
    let entry = this.#models.get(name);
    if (!entry && create) {
      if (!this.names().includes(name)) throw new ServerError('NOT_FOUND', `unknown model '${name}': the repository has no such model`);
      entry = { name, state: 'UNAVAILABLE', reason: 'not loaded', versions: new Map(), busy: Promise.resolve() };
      this.#models.set(name, entry);
    }
    return entry;
  }

  /** Which versions of a model to load, from where, with which config. */
  #plan(name: string): { version: string; model: string | Uint8Array; config: ModelConfig }[] {
    const given = this.#sources.get(name);
    if (given) return [{ version: String(given.version ?? 1), model: given.model, config: given.config ?? {} }];
    const dir = join(this.#dir!, name);
    if (!existsSync(dir)) throw new ServerError('NOT_FOUND', `unknown model '${name}': ${dir} does not exist`);
    const configPath = join(dir, 'config.json');
    let config: ModelConfig = {};
    if (existsSync(configPath)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(configPath, 'utf8'));
      } catch (error) {
        throw configError(configPath, `not valid JSON (${(error as Error).message})`);
      }
      config = checkConfig(configPath, parsed);
    }
    const available = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[0-9]+$/.test(e.name) && existsSync(join(dir, e.name, 'model.onnx')))
      .map((e) => Number(e.name))
      .sort((a, b) => a - b);
    if (available.length === 0) throw new ServerError('INVALID_ARGUMENT', `model '${name}' has no version: ${dir} needs a numbered folder holding model.onnx (${name}/1/model.onnx)`);
    const policy = config.versions ?? 'latest';
    const chosen = policy === 'latest' ? [available.at(-1)!] : policy === 'all' ? available : policy;
    const missing = chosen.filter((v) => !available.includes(v));
    if (missing.length > 0) throw configError(configPath, `versions lists ${missing.join(', ')}, which ${dir} does not hold (it has ${available.join(', ')})`);
    return [...chosen].sort((a, b) => a - b).map((v) => ({ version: String(v), model: join(dir, String(v), 'model.onnx'), config }));
  }

  async #loadVersion(name: string, version: string, model: string | Uint8Array, config: ModelConfig): Promise<ModelVersion> {
    const poolName = `${this.#prefix}/${name}/${version}`;
    const sessionOptions: SessionOptions = { ...config.sessionOptions, ...(config.providers ? { executionProviders: config.providers } : {}) };
    const pool = await SessionPool.create(model, {
      name: poolName,
      size: config.pool?.size,
      maxQueue: config.maxQueue,
      batching: config.batching,
      sessionOptions,
    });
    const session = pool.sessions[0];
    const labels = { model: name, version };
    const loaded: ModelVersion = {
      name,
      version,
      pool,
      inputs: tensorInfos(session.inputMetadata),
      outputs: tensorInfos(session.outputMetadata),
      timeoutMs: config.timeoutMs,
      batching: config.batching,
      labels,
      stats: new VersionStatistics(name, version, config.batching !== undefined),
    };
    this.#metrics?.track(poolName, labels, () => pool.stats());
    this.#statistics.track(poolName, loaded.stats);
    return loaded;
  }

  async #closeVersion(version: ModelVersion): Promise<void> {
    await version.pool.close();
    this.#metrics?.untrack(version.pool.name);
    this.#statistics.untrack(version.pool.name);
  }
}
