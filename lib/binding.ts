// binding.ts: finds and loads the native addon and libonnxruntime; the types of the whole native surface.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
const nodeGypBuild: (dir: string) => unknown = require('node-gyp-build');
import { OrtError } from './errors.js';
import { pollWith, waitAwake } from './wait.js';
import type { NativeProvider } from './providers.js';
import type { NativeTypeDesc } from './values.js';

/** [typeCode, data, dims]: a tensor as it crosses the native boundary. */
export type NativeTensor = [number, ArrayBufferView | string[], number[]];
/** A run's outputs (native/run.cc, Collect): one ArrayBuffer with a header and the copied outputs' bytes, then a slot per output. */
export type NativeOutputs = [ArrayBuffer, ...unknown[]];

export interface NativeValueInfo extends NativeTypeDesc {
  name: string;
}

export interface NativeMetadata {
  inputs: NativeValueInfo[];
  outputs: NativeValueInfo[];
  model: {
    producerName: string;
    graphName: string;
    domain: string;
    description: string;
    graphDescription: string;
    version?: number;
    customMetadataMap: Record<string, string>;
  };
  hugePageBytes: number;
}

export interface NativeSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: number;
  executionMode?: number;
  logSeverityLevel?: number;
  logId?: string;
  logVerbosityLevel?: number;
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  hugePages?: boolean;
  enableProfiling?: boolean;
  profileFilePrefix?: string;
  optimizedModelFilePath?: string;
  useGlobalThreadPools?: boolean;
  freeDimensionOverrides?: [string, number][];
  freeDimensionOverridesByDenotation?: [string, number][];
  sessionConfigEntries?: [string, string][];
  initializers?: [string, number, unknown, readonly number[]][];
  externalData?: [string, Uint8Array][];
  executionProviders?: NativeProvider[];
}

export interface NativeRunOptions {
  logSeverityLevel?: number;
  logVerbosityLevel?: number;
  tag?: string;
  configEntries?: [string, string][];
  /** Set ONNX Runtime's terminate flag before the run: it fails at once. */
  terminate?: boolean;
}

/** ONNX Runtime run options JS holds, so it can set their terminate flag while a run uses them. */
export interface NativeRunOptionsHandle {
  terminate(): void;
  unsetTerminate(): void;
}

export interface NativeIoBinding {
  bindInput(index: number, type: number, data: unknown, dims: readonly number[] | null): void;
  bindOutput(index: number, type: number | null, data: unknown, dims: readonly number[] | null): void;
  clearBoundInputs(): void;
  clearBoundOutputs(): void;
  synchronizeInputs(): void;
  synchronizeOutputs(): void;
  run(options: NativeRunOptions | NativeRunOptionsHandle | undefined): Promise<void>;
  runSync(options: NativeRunOptions | undefined): void;
  /** [name, [typeCode, data, dims] | null]*, null where the output was bound to a caller's tensor */
  getOutputs(): unknown[];
  release(): void;
}

export interface NativeSession {
  metadata(): NativeMetadata;
  /**
   * What to run is in `descriptor` (session.ts, describe), its data in `slots`. With `inline` true, a session measured to run shorter than a hand-off runs here and
   * returns its outputs at once; with `onlyInline` too, one that is not returns undefined and
   * starts nothing.
   */
  run(descriptor: Float64Array, slots: unknown[], options: NativeRunOptions | NativeRunOptionsHandle | undefined, inline: boolean, onlyInline: boolean): Promise<NativeOutputs> | NativeOutputs | undefined;
  run(descriptor: Float64Array, slots: unknown[], options: NativeRunOptions | NativeRunOptionsHandle | undefined): Promise<NativeOutputs>;
  runSync(descriptor: Float64Array, slots: unknown[], options: NativeRunOptions | undefined): NativeOutputs;
  release(): void;
  endProfiling(): string;
  /** For tests: [runs measured (up to 3), average run ns, late ns, early ns] (native/session.h, SessionCore). */
  runTimes(): [number, number, number, number];
  createIoBinding(): NativeIoBinding;
}

export interface NativeLibraryInfo {
  apiVersion: number;
  loaded: boolean;
  path?: string;
  version?: string;
  runThreads: number;
  globalThreadPools: boolean;
  cudaRoute?: 'built-in' | 'plugin';
}

export interface NativeBinding {
  setup(ortError: typeof OrtError, waitAwake: (micros: number) => void): void;
  init(libraryPath: string): NativeLibraryInfo;
  versions(): NativeLibraryInfo;
  createSession(model: string | Uint8Array, options: NativeSessionOptions): Promise<NativeSession>;
  RunOptions: new (options?: NativeRunOptions) => NativeRunOptionsHandle;
  configureEnv(options: { globalThreadPools: boolean; intraOpNumThreads?: number; interOpNumThreads?: number; allowSpinning?: boolean }): void;
  setLogger(logger: ((severity: number, category: string, logId: string, codeLocation: string, message: string) => void) | null): void;
  setLogLevel(severity: number): void;
  logLevel(): number;
  availableProviders(): string[];
  /** Process exit: no new work starts; runs executing are terminated and waited for (bounded). */
  stopForExit(): void;
  /** From the loop kept turning for a lone run (wait.ts): settles it if it has finished; `last`: the turning stops. */
  pollRun(last: boolean): boolean;
  /** Of the runs the turning loop polled for: [left by their runner with no call of its own, with one]. For tests. */
  handBackCounts(): [number, number];
  allocateTensor(type: number, dims: readonly number[], deviceId: number, cudaLibraryPath: string | undefined): import('./tensor.js').DeviceHandle;
  /**
   * JSON for v2 infer requests (native/json.cc): what JSON.parse gives, but `inputs[i].data`, where
   * it is all numbers, as one flat Float64Array; undefined where JSON.parse must decide (malformed
   * JSON, a string it is unsure of, too many small values).
   */
  parseJson(bytes: Uint8Array, length?: number): unknown;
  readonly sourceHash: string;
}

/** The package root: lib/ when run from source, dist/ when built; both sit one level down. */
export const packageRoot = resolve(__dirname, '..');

function loadAddon(): NativeBinding {
  try {
    return nodeGypBuild(packageRoot) as NativeBinding;
  } catch (cause) {
    throw new Error(
      `ort-napi could not load its native addon for ${process.platform}-${process.arch} (node ${process.version}).\n` +
        'Possible solutions:\n' +
        `- use a platform with a prebuilt binary (prebuilds/: ${listPrebuilds()})\n` +
        '- build it from source: npm run build (needs cmake and a C++17 compiler)\n' +
        `Cause: ${(cause as Error).message}`,
      { cause },
    );
  }
}

function listPrebuilds(): string {
  const dir = join(packageRoot, 'prebuilds');
  if (!existsSync(dir)) return 'none';
  return require('node:fs').readdirSync(dir).join(', ') || 'none';
}

export const native: NativeBinding = loadAddon();
native.setup(OrtError, waitAwake);
pollWith(native.pollRun);
// When the process exits (process.exit(), the end of the loop, an uncaught error), the runner
// threads leave ONNX Runtime before its static destructors run: a run still inside it then would
// execute against a half-destroyed library. (The addon's atexit hook is the backstop; this one runs
// first, before any static destructor.) A Worker's exit ends only its own environment, whose
// cleanup hook stops its runs.
if (isMainThread) process.once('exit', () => native.stopForExit());

/**
 * The ONNX Runtime core shipped in this package for this platform: the official 1.29.0 build
 * (from onnxruntime-node@1.29.0, MIT; prebuilds/ONNXRUNTIME-LICENSE), beside the addon.
 */
export function bundledLibraryPath(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const path = join(packageRoot, 'prebuilds', `linux-${process.arch}`, 'libonnxruntime.so.1');
  return existsSync(path) ? path : undefined;
}

let loaded: NativeLibraryInfo | undefined;

/**
 * Loads ONNX Runtime once per process. The library comes from, in order: `libraryPath`,
 * the ORT_DYLIB_PATH environment variable, the core bundled in prebuilds/.
 */
export function loadOrt(libraryPath?: string): NativeLibraryInfo {
  if (loaded && libraryPath === undefined) return loaded;
  let path: string | undefined;
  let source: string;
  if (libraryPath !== undefined) {
    path = libraryPath;
    source = 'env.init({ libraryPath })';
  } else if (process.env.ORT_DYLIB_PATH) {
    path = process.env.ORT_DYLIB_PATH;
    source = 'the ORT_DYLIB_PATH environment variable';
  } else {
    path = bundledLibraryPath();
    source = 'the core bundled with ort-napi';
  }
  if (path === undefined) {
    throw new Error(
      `ort-napi bundles no ONNX Runtime core for ${process.platform}-${process.arch}. Set ORT_DYLIB_PATH to a ` +
        'libonnxruntime (1.29 or newer; onnxruntime-node@1.29.0 ships official builds for more platforms), or call env.init({ libraryPath }).',
    );
  }
  try {
    loaded = native.init(path);
  } catch (cause) {
    const error = new Error(`${(cause as Error).message} (the path came from ${source})`, { cause });
    (error as Error & { code?: string }).code = 'ERR_ORT_LOAD';
    throw error;
  }
  return loaded;
}
