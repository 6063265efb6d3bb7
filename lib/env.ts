// env.ts: the process-level view of ONNX Runtime: which library is loaded, and loading it explicitly.
import { env as commonEnv } from 'onnxruntime-common';
import { loadOrt, native, packageRoot } from './binding.js';
import { releaseWarnings, setReleaseWarnings } from './lifetime.js';
import { invalid, isPlainObject, checkKeys, optionalInteger } from './validate.js';

export interface Versions {
  /** This package's version. */
  ortNapi: string;
  /** The loaded ONNX Runtime's version string ("1.29.0"). */
  onnxruntime: string;
  /** The ONNX Runtime C API version ort-napi was built against and asks for. */
  apiVersion: number;
  /** The path libonnxruntime was loaded from. */
  libraryPath: string;
  /** How many threads run inferences and model loads off the main thread (ORT_NAPI_RUN_THREADS). */
  runThreads: number;
  /** How CUDA was reached, once a session used it: the core's own CUDA, or the plugin provider library. */
  cudaRoute?: 'built-in' | 'plugin';
  /** onnxruntime-common's version (the package ort-napi registers with as a backend). */
  common: string;
  /** As onnxruntime-node reports its own version here: this package's. */
  node: string;
}

export interface InitOptions {
  /** A libonnxruntime to load instead of ORT_DYLIB_PATH or the bundled one. */
  libraryPath?: string;
  /**
   * Shared intra-op and inter-op thread pools for the whole process, used by sessions created with
   * `useGlobalThreadPools: true`: many sessions then share the cores instead of each spawning a
   * pool of its own. Must be chosen before the first session is created.
   */
  globalThreadPools?: { intraOpNumThreads?: number; interOpNumThreads?: number; allowSpinning?: boolean };
}

export type LogSeverity = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
const SEVERITIES: LogSeverity[] = ['verbose', 'info', 'warning', 'error', 'fatal'];

/** Receives ONNX Runtime's log messages, on the thread of the environment that set it. */
export type Logger = (severity: LogSeverity, category: string, logId: string, codeLocation: string, message: string) => void;

let logger: Logger | undefined;

const packageVersion: string = require(`${packageRoot}/package.json`).version;

function versions(): Versions {
  loadOrt();
  const info = native.versions(); // live: cudaRoute is set once a session reaches CUDA
  return {
    ortNapi: packageVersion,
    onnxruntime: info.version ?? 'unknown',
    apiVersion: info.apiVersion,
    libraryPath: info.path ?? '',
    runThreads: info.runThreads,
    ...(info.cudaRoute ? { cudaRoute: info.cudaRoute } : {}),
    common: commonEnv.versions.common,
    node: packageVersion,
  };
}

const envObject = {
  /**
   * onnxruntime-common's settings for its web backends, shared with it: settable, read by no
   * Node.js backend (onnxruntime-node ignores them too), here so code written for the web or for
   * onnxruntime-node sets them without failing.
   */
  wasm: commonEnv.wasm,
  webgl: commonEnv.webgl,
  webgpu: commonEnv.webgpu,
  /**
   * Loads ONNX Runtime now rather than on first use. A process loads one library: a later call
   * with another path throws.
   */
  init(options: InitOptions = {}): Versions {
    if (!isPlainObject(options)) throw invalid('env.init options', 'an object', options);
    checkKeys('env.init options', options, ['libraryPath', 'globalThreadPools']);
    if (options.libraryPath !== undefined && typeof options.libraryPath !== 'string') {
      throw invalid('env.init options.libraryPath', 'a string', options.libraryPath);
    }
    const pools = options.globalThreadPools;
    if (pools !== undefined) {
      if (!isPlainObject(pools)) throw invalid('env.init options.globalThreadPools', 'an object', pools);
      checkKeys('env.init options.globalThreadPools', pools, ['intraOpNumThreads', 'interOpNumThreads', 'allowSpinning']);
      optionalInteger('env.init options.globalThreadPools.intraOpNumThreads', pools.intraOpNumThreads, 0, 1 << 16);
      optionalInteger('env.init options.globalThreadPools.interOpNumThreads', pools.interOpNumThreads, 0, 1 << 16);
      if (pools.allowSpinning !== undefined && typeof pools.allowSpinning !== 'boolean') {
        throw invalid('env.init options.globalThreadPools.allowSpinning', 'a boolean', pools.allowSpinning);
      }
    }
    loadOrt(options.libraryPath as string | undefined);
    if (pools !== undefined) native.configureEnv({ globalThreadPools: true, ...(pools as object) });
    return versions();
  },
  /**
   * ONNX Runtime's log messages go here instead of stderr. Set per thread (each Worker its own);
   * ONNX Runtime's threads never call it directly. `undefined` goes back to stderr.
   */
  get logger(): Logger | undefined {
    return logger;
  },
  set logger(fn: Logger | undefined) {
    if (fn !== undefined && typeof fn !== 'function') throw invalid('env.logger', 'a function or undefined', fn);
    logger = fn;
    native.setLogger(fn ? (severity, ...rest) => fn(SEVERITIES[severity] ?? 'fatal', ...rest) : null);
  },
  /** The least severity the environment logs (sessions and runs may set their own). Default 'warning'. */
  get logLevel(): LogSeverity {
    return SEVERITIES[native.logLevel()];
  },
  set logLevel(level: LogSeverity) {
    const index = SEVERITIES.indexOf(level);
    if (index < 0) throw invalid('env.logLevel', `one of ${SEVERITIES.map((s) => `'${s}'`).join(', ')}`, level);
    native.setLogLevel(index);
  },
  /**
   * Whether a session or pool garbage-collected without release() raises the one
   * ORT_NAPI_NOT_RELEASED warning (default true). The collector frees it either way.
   */
  get releaseWarnings(): boolean {
    return releaseWarnings();
  },
  set releaseWarnings(on: boolean) {
    if (typeof on !== 'boolean') throw invalid('env.releaseWarnings', 'a boolean', on);
    setReleaseWarnings(on);
  },
  /** The execution providers the loaded ONNX Runtime was built with ('CPUExecutionProvider', ...). */
  getAvailableProviders(): string[] {
    loadOrt();
    return native.availableProviders();
  },
  /** What is loaded, from where (loads ONNX Runtime if nothing is yet). */
  get versions(): Versions {
    return versions();
  },
  /** onnxruntime-common's debug flag (its env.debug: the same setting). */
  get debug(): boolean | undefined {
    return commonEnv.debug;
  },
  set debug(on: boolean | undefined) {
    if (on !== undefined && typeof on !== 'boolean') throw invalid('env.debug', 'a boolean or undefined', on);
    commonEnv.debug = on;
  },
  /** onnxruntime-common's trace flag (its env.trace), which its TRACE functions read. */
  get trace(): boolean | undefined {
    return commonEnv.trace;
  },
  set trace(on: boolean | undefined) {
    if (on !== undefined && typeof on !== 'boolean') throw invalid('env.trace', 'a boolean or undefined', on);
    commonEnv.trace = on;
  },
};

/**
 * The process's ONNX Runtime environment. Like onnxruntime-common's env it takes other settings by
 * name too (`env.someFlag = ...`), which ort-napi keeps and does not read.
 */
export const env: typeof envObject & { [name: string]: unknown } = envObject;
