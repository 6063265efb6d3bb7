// options.ts: session and run option types, and their validation into what the addon reads.
import type { NativeRunOptions, NativeSessionOptions } from './binding.js';
import { lend } from './lending.js';
import { normalizeExecutionProviders, type ExecutionProviderConfig } from './providers.js';
import { ELEMENT_TYPES, Tensor } from './tensor.js';
import { checkKeys, invalid, isPlainObject, optionalChoice, optionalInteger, optionalString } from './validate.js';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
export type ExecutionMode = 'sequential' | 'parallel';
/** ONNX Runtime's log severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. */
export type LogSeverityLevel = 0 | 1 | 2 | 3 | 4;

export interface SessionOptions {
  /** Threads of the session's intra-op pool; 0 lets ONNX Runtime choose (one per physical core). */
  intraOpNumThreads?: number;
  /** Threads of the inter-op pool (executionMode 'parallel'); 0 lets ONNX Runtime choose. */
  interOpNumThreads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  executionMode?: ExecutionMode;
  logSeverityLevel?: LogSeverityLevel;
  /** A name for this session in ONNX Runtime's log. */
  logId?: string;
  /** Verbose-log detail (with logSeverityLevel 0). */
  logVerbosityLevel?: number;
  /** ONNX Runtime's CPU memory arena (default on): off trades speed for returning memory sooner. */
  enableCpuMemArena?: boolean;
  /** Memory pattern planning for repeated shapes (default on). */
  enableMemPattern?: boolean;
  /**
   * Linux: after the load, remap the memory it filled (the weights and the packed copies kernels
   * make of them) onto 2 MiB transparent huge pages, where every page of an extent is already
   * resident, so no memory is added (MADV_COLLAPSE, Linux 6.1+; THP 'never' is respected). Models
   * that stream weights larger than the caches run faster; see `session.hugePageBytes`. Default on.
   */
  hugePages?: boolean;
  /** Writes a chrome://tracing JSON profile; `session.endProfiling()` finishes it and returns its path. */
  enableProfiling?: boolean;
  /** The profile file's path prefix (default 'onnxruntime_profile_'). */
  profileFilePrefix?: string;
  /** Where to write the model after graph optimisation. */
  optimizedModelFilePath?: string;
  /** Fixes symbolic dims by name: `{ batch: 1 }`. */
  freeDimensionOverrides?: Readonly<Record<string, number>>;
  /** Fixes dims by their ONNX denotation: `{ DATA_BATCH: 1 }`. */
  freeDimensionOverridesByDenotation?: Readonly<Record<string, number>>;
  /** ONNX Runtime session config entries (AddSessionConfigEntry): `{ 'session.intra_op.allow_spinning': '0' }`. */
  sessionConfigEntries?: Readonly<Record<string, string>>;
  /** onnxruntime-common's form of config entries: nested keys joined with dots. */
  extra?: Readonly<Record<string, unknown>>;
  /** Initializers to use instead of the model's (or to supply ones it leaves out), by name. Copied once. */
  initializers?: Readonly<Record<string, Tensor>>;
  /**
   * External data files given in memory, for a model loaded from bytes whose weights live in
   * separate files: `{ 'weights.bin': bytes }`, or onnxruntime-common's `[{ path, data }]`.
   * A model loaded from a path finds its files beside it without this.
   */
  externalData?: Readonly<Record<string, Uint8Array>> | readonly { path: string; data: Uint8Array | ArrayBuffer }[];
  /**
   * onnxruntime-common's, read by onnxruntime-web only: accepted and ignored, as onnxruntime-node
   * ignores it (outputs come back in CPU memory; bind device outputs with an IoBinding).
   */
  preferredOutputLocation?: OutputLocation | Readonly<Record<string, OutputLocation>>;
  /** onnxruntime-common's, for onnxruntime-web's WebGPU only: accepted and ignored, as onnxruntime-node ignores it. */
  enableGraphCapture?: boolean;
  /** Use the environment's shared thread pools (see `env.init({ globalThreadPools })`) instead of the session's own. */
  useGlobalThreadPools?: boolean;
  /**
   * How many runs of this session execute at once (the rest queue, still off the main thread).
   * Default: one per `intraOpNumThreads`-sized share of the runner threads, so one at a time with
   * ONNX Runtime's default of a thread per core, and one per core with `intraOpNumThreads: 1`.
   */
  maxConcurrentRuns?: number;
  /**
   * Execution providers in priority order: `'cpu'`, `{ name: 'cuda', deviceId, gpuMemLimit, ... }`,
   * `{ name: 'tensorrt', fp16Enable, ... }`, or any other by ONNX Runtime's name with
   * `options: { key: value }`. CPU is always last, implicitly. `fallback: true` on an entry logs
   * its failure and goes on to the next instead of failing the session.
   */
  executionProviders?: readonly ExecutionProviderConfig[];
}

export interface RunOptions {
  logSeverityLevel?: LogSeverityLevel;
  logVerbosityLevel?: number;
  /** A name for this run in ONNX Runtime's log. */
  tag?: string;
  /** ONNX Runtime's run config entries (AddRunConfigEntry): `{ 'memory.enable_memory_arena_shrinkage': 'cpu:0' }`. */
  configEntries?: Readonly<Record<string, string>>;
  /**
   * Aborts the run: a queued run never starts; a running one is stopped by ONNX Runtime's
   * terminate flag (checked between operators). Either way the promise rejects with
   * `signal.reason` (an AbortError DOMException unless the signal gave another), and the session
   * stays usable.
   */
  signal?: AbortSignal;
  /** onnxruntime-common's: run config entries as nested objects (`{ memory: { enable_memory_arena_shrinkage: 'cpu:0' } }`). */
  extra?: Readonly<Record<string, unknown>>;
  /** onnxruntime-common's: with `true`, ONNX Runtime's terminate flag is set before the run starts, so it fails at once. */
  terminate?: boolean;
}

/** onnxruntime-common's data locations of a value. */
type OutputLocation = 'cpu' | 'cpu-pinned' | 'texture' | 'gpu-buffer' | 'ml-tensor';
const OUTPUT_LOCATIONS: readonly OutputLocation[] = ['cpu', 'cpu-pinned', 'texture', 'gpu-buffer', 'ml-tensor'];

/** Checks the web-only options onnxruntime-node ignores, so that a typo is still caught. */
function checkWebOnly(options: Record<string, unknown>): void {
  const where = options.preferredOutputLocation;
  if (where !== undefined && typeof where !== 'string' && !isPlainObject(where)) {
    throw invalid('session options.preferredOutputLocation', 'a data location or an object of them by output name', where);
  }
  const locations = typeof where === 'string' ? { '': where } : ((where ?? {}) as Record<string, unknown>);
  for (const [name, location] of Object.entries(locations)) {
    optionalChoice(`session options.preferredOutputLocation${name ? `['${name}']` : ''}`, location, OUTPUT_LOCATIONS);
  }
  optionalBoolean('session options.enableGraphCapture', options.enableGraphCapture);
}

const GRAPH_LEVELS: Record<GraphOptimizationLevel, number> = { disabled: 0, basic: 1, extended: 2, layout: 3, all: 99 };
const MAX_THREADS = 1 << 16;

export function normalizeSessionOptions(options: unknown, libraryPath = ''): NativeSessionOptions {
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw invalid('session options', 'an object', options);
  checkKeys('session options', options, [
    'intraOpNumThreads',
    'interOpNumThreads',
    'graphOptimizationLevel',
    'executionMode',
    'logSeverityLevel',
    'logId',
    'executionProviders',
    'maxConcurrentRuns',
    'logVerbosityLevel',
    'enableCpuMemArena',
    'enableMemPattern',
    'hugePages',
    'enableProfiling',
    'profileFilePrefix',
    'optimizedModelFilePath',
    'freeDimensionOverrides',
    'freeDimensionOverridesByDenotation',
    'sessionConfigEntries',
    'extra',
    'initializers',
    'externalData',
    'useGlobalThreadPools',
    'preferredOutputLocation',
    'enableGraphCapture',
  ]);
  checkWebOnly(options);
  optionalInteger('session options.maxConcurrentRuns', options.maxConcurrentRuns, 1, 1 << 20);
  const level = optionalChoice('session options.graphOptimizationLevel', options.graphOptimizationLevel, Object.keys(GRAPH_LEVELS) as GraphOptimizationLevel[]);
  const mode = optionalChoice('session options.executionMode', options.executionMode, ['sequential', 'parallel'] as const);
  return {
    intraOpNumThreads: optionalInteger('session options.intraOpNumThreads', options.intraOpNumThreads, 0, MAX_THREADS),
    interOpNumThreads: optionalInteger('session options.interOpNumThreads', options.interOpNumThreads, 0, MAX_THREADS),
    graphOptimizationLevel: level === undefined ? undefined : GRAPH_LEVELS[level],
    executionMode: mode === undefined ? undefined : mode === 'sequential' ? 0 : 1,
    logSeverityLevel: optionalInteger('session options.logSeverityLevel', options.logSeverityLevel, 0, 4),
    logId: optionalString('session options.logId', options.logId),
    logVerbosityLevel: optionalInteger('session options.logVerbosityLevel', options.logVerbosityLevel, 0, 1 << 30),
    enableCpuMemArena: optionalBoolean('session options.enableCpuMemArena', options.enableCpuMemArena),
    enableMemPattern: optionalBoolean('session options.enableMemPattern', options.enableMemPattern),
    hugePages: optionalBoolean('session options.hugePages', options.hugePages),
    enableProfiling: optionalBoolean('session options.enableProfiling', options.enableProfiling),
    profileFilePrefix: optionalString('session options.profileFilePrefix', options.profileFilePrefix),
    optimizedModelFilePath: optionalString('session options.optimizedModelFilePath', options.optimizedModelFilePath),
    useGlobalThreadPools: optionalBoolean('session options.useGlobalThreadPools', options.useGlobalThreadPools),
    freeDimensionOverrides: dimEntries('session options.freeDimensionOverrides', options.freeDimensionOverrides),
    freeDimensionOverridesByDenotation: dimEntries('session options.freeDimensionOverridesByDenotation', options.freeDimensionOverridesByDenotation),
    sessionConfigEntries: [
      ...stringEntries('session options.sessionConfigEntries', options.sessionConfigEntries),
      ...flattenExtra('session options.extra', options.extra),
    ],
    initializers: initializerEntries(options.initializers),
    externalData: externalDataEntries(options.externalData),
    executionProviders: normalizeExecutionProviders(options.executionProviders, libraryPath),
  };
}

function optionalBoolean(parameter: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalid(parameter, 'a boolean', value);
  return value;
}

function record(parameter: string, value: unknown): [string, unknown][] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) throw invalid(parameter, 'an object', value);
  return Object.entries(value);
}

function dimEntries(parameter: string, value: unknown): [string, number][] {
  return record(parameter, value).map(([name, dim]) => {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) throw invalid(`${parameter}.${name}`, 'a non-negative integer', dim);
    return [name, dim];
  });
}

function stringEntries(parameter: string, value: unknown): [string, string][] {
  return record(parameter, value).map(([key, v]) => {
    if (typeof v !== 'string') throw invalid(`${parameter}['${key}']`, 'a string', v);
    return [key, v];
  });
}

/** onnxruntime-common's `extra`: `{ session: { set_denormal_as_zero: '1' } }` is the entry 'session.set_denormal_as_zero'. */
function flattenExtra(parameter: string, value: unknown, prefix = ''): [string, string][] {
  return record(parameter, value).flatMap(([key, v]): [string, string][] => {
    const name = prefix + key;
    if (isPlainObject(v)) return flattenExtra(`${parameter}.${key}`, v, `${name}.`);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return [[name, String(v)]];
    throw invalid(`${parameter}.${key}`, 'a string, number, boolean or object', v);
  });
}

function initializerEntries(value: unknown): [string, number, unknown, readonly number[]][] {
  return record('session options.initializers', value).map(([name, t]) => {
    if (!(t instanceof Tensor)) throw invalid(`session options.initializers['${name}']`, 'a Tensor', t);
    const tensor = t as Tensor;
    return [name, ELEMENT_TYPES[tensor.type].code, tensor.data, tensor.dims];
  });
}

function externalDataEntries(value: unknown): [string, Uint8Array][] {
  if (value === undefined) return [];
  const bytes = (parameter: string, data: unknown): Uint8Array => {
    if (!(data instanceof Uint8Array) && !(data instanceof ArrayBuffer)) throw invalid(parameter, 'a Uint8Array or an ArrayBuffer', data);
    const view = data instanceof Uint8Array ? data : new Uint8Array(data);
    lend(parameter, view); // read in place while the model loads
    return view;
  };
  if (Array.isArray(value)) {
    return value.map((file: unknown, i) => {
      if (!isPlainObject(file) || typeof file.path !== 'string') throw invalid(`session options.externalData[${i}]`, 'a { path, data } entry', file);
      return [file.path, bytes(`session options.externalData[${i}].data`, file.data)];
    });
  }
  return record('session options.externalData', value).map(([path, data]) => [path, bytes(`session options.externalData['${path}']`, data)]);
}

export interface NormalizedRunOptions {
  native: NativeRunOptions | undefined;
  signal: AbortSignal | undefined;
}

const NO_RUN_OPTIONS: NormalizedRunOptions = Object.freeze({ native: undefined, signal: undefined });

export function normalizeRunOptions(options: unknown): NormalizedRunOptions {
  if (options === undefined) return NO_RUN_OPTIONS;
  if (!isPlainObject(options)) throw invalid('run options', 'an object', options);
  checkKeys('run options', options, ['logSeverityLevel', 'logVerbosityLevel', 'tag', 'configEntries', 'signal', 'extra', 'terminate']);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('run options.signal', 'an AbortSignal', signal);
  if (options.terminate !== undefined && typeof options.terminate !== 'boolean') throw invalid('run options.terminate', 'a boolean', options.terminate);
  const entries = [
    ...(options.configEntries === undefined ? [] : stringEntries('run options.configEntries', options.configEntries)),
    ...(options.extra === undefined ? [] : flattenExtra('run options.extra', options.extra)),
  ];
  const native: NativeRunOptions = {
    logSeverityLevel: optionalInteger('run options.logSeverityLevel', options.logSeverityLevel, 0, 4),
    logVerbosityLevel: optionalInteger('run options.logVerbosityLevel', options.logVerbosityLevel, 0, 1 << 30),
    tag: optionalString('run options.tag', options.tag),
    configEntries: entries.length === 0 ? undefined : entries,
    terminate: options.terminate === true ? true : undefined,
  };
  // Options that set nothing (`{ signal }`, what a server passes) go to native as none: reading an
  // object's five properties through Node-API cost a run() with a signal 4 us more on the main
  // thread (10.5 against 6.5 us to make its handle, on an MLP whose run had let that code go cold).
  const setsNothing = native.logSeverityLevel === undefined && native.logVerbosityLevel === undefined && native.tag === undefined && native.configEntries === undefined && native.terminate === undefined;
  return { native: setsNothing ? undefined : native, signal };
}
