// providers.ts: execution provider options, typed by ONNX Runtime's documented keys in camelCase,
// each mapped 1:1 to ONNX Runtime's own key; validated here, appended in order by the addon.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkKeys, invalid, isPlainObject } from './validate.js';

type Kind = 'int' | 'bool' | 'string' | 'shapes' | readonly string[];

const CUDA_KEYS = {
  deviceId: ['device_id', 'int'],
  gpuMemLimit: ['gpu_mem_limit', 'int'],
  arenaExtendStrategy: ['arena_extend_strategy', ['kNextPowerOfTwo', 'kSameAsRequested']],
  cudnnConvAlgoSearch: ['cudnn_conv_algo_search', ['EXHAUSTIVE', 'HEURISTIC', 'DEFAULT']],
  doCopyInDefaultStream: ['do_copy_in_default_stream', 'bool'],
  cudnnConvUseMaxWorkspace: ['cudnn_conv_use_max_workspace', 'bool'],
  cudnnConv1dPadToNc1d: ['cudnn_conv1d_pad_to_nc1d', 'bool'],
  enableCudaGraph: ['enable_cuda_graph', 'bool'],
  tunableOpEnable: ['tunable_op_enable', 'bool'],
  tunableOpTuningEnable: ['tunable_op_tuning_enable', 'bool'],
  tunableOpMaxTuningDurationMs: ['tunable_op_max_tuning_duration_ms', 'int'],
  enableSkipLayerNormStrictMode: ['enable_skip_layer_norm_strict_mode', 'bool'],
  preferNhwc: ['prefer_nhwc', 'bool'],
  useEpLevelUnifiedStream: ['use_ep_level_unified_stream', 'bool'],
  useTf32: ['use_tf32', 'bool'],
  fuseConvBias: ['fuse_conv_bias', 'bool'],
  sdpaKernel: ['sdpa_kernel', 'int'],
} as const satisfies Record<string, readonly [string, Kind]>;

const TENSORRT_KEYS = {
  deviceId: ['device_id', 'int'],
  maxPartitionIterations: ['trt_max_partition_iterations', 'int'],
  minSubgraphSize: ['trt_min_subgraph_size', 'int'],
  maxWorkspaceSize: ['trt_max_workspace_size', 'int'],
  fp16Enable: ['trt_fp16_enable', 'bool'],
  bf16Enable: ['trt_bf16_enable', 'bool'],
  int8Enable: ['trt_int8_enable', 'bool'],
  int8CalibrationTableName: ['trt_int8_calibration_table_name', 'string'],
  int8UseNativeCalibrationTable: ['trt_int8_use_native_calibration_table', 'bool'],
  dlaEnable: ['trt_dla_enable', 'bool'],
  dlaCore: ['trt_dla_core', 'int'],
  dumpSubgraphs: ['trt_dump_subgraphs', 'bool'],
  engineCacheEnable: ['trt_engine_cache_enable', 'bool'],
  engineCachePath: ['trt_engine_cache_path', 'string'],
  engineCachePrefix: ['trt_engine_cache_prefix', 'string'],
  engineDecryptionEnable: ['trt_engine_decryption_enable', 'bool'],
  engineDecryptionLibPath: ['trt_engine_decryption_lib_path', 'string'],
  forceSequentialEngineBuild: ['trt_force_sequential_engine_build', 'bool'],
  contextMemorySharingEnable: ['trt_context_memory_sharing_enable', 'bool'],
  layerNormFp32Fallback: ['trt_layer_norm_fp32_fallback', 'bool'],
  timingCacheEnable: ['trt_timing_cache_enable', 'bool'],
  timingCachePath: ['trt_timing_cache_path', 'string'],
  forceTimingCache: ['trt_force_timing_cache', 'bool'],
  detailedBuildLog: ['trt_detailed_build_log', 'bool'],
  buildHeuristicsEnable: ['trt_build_heuristics_enable', 'bool'],
  sparsityEnable: ['trt_sparsity_enable', 'bool'],
  builderOptimizationLevel: ['trt_builder_optimization_level', 'int'],
  auxiliaryStreams: ['trt_auxiliary_streams', 'int'],
  tacticSources: ['trt_tactic_sources', 'string'],
  extraPluginLibPaths: ['trt_extra_plugin_lib_paths', 'string'],
  profileMinShapes: ['trt_profile_min_shapes', 'shapes'],
  profileMaxShapes: ['trt_profile_max_shapes', 'shapes'],
  profileOptShapes: ['trt_profile_opt_shapes', 'shapes'],
  cudaGraphEnable: ['trt_cuda_graph_enable', 'bool'],
  dumpEpContextModel: ['trt_dump_ep_context_model', 'bool'],
  epContextFilePath: ['trt_ep_context_file_path', 'string'],
  epContextEmbedMode: ['trt_ep_context_embed_mode', 'int'],
  weightStrippedEngineEnable: ['trt_weight_stripped_engine_enable', 'bool'],
  onnxModelFolderPath: ['trt_onnx_model_folder_path', 'string'],
  engineHwCompatible: ['trt_engine_hw_compatible', 'bool'],
  opTypesToExclude: ['trt_op_types_to_exclude', 'string'],
} as const satisfies Record<string, readonly [string, Kind]>;

type OptionType<K extends Kind> = K extends 'int' ? number : K extends 'bool' ? boolean : K extends 'string' ? string : K extends 'shapes' ? Readonly<Record<string, readonly number[]>> : K extends readonly (infer E)[] ? E : never;
type OptionsOf<T extends Record<string, readonly [string, Kind]>> = { [K in keyof T]?: OptionType<T[K][1]> };

interface Common {
  /** On failure to add this provider, log a warning and go on to the next instead of failing the session. */
  fallback?: boolean;
}
export interface CpuProviderOptions extends Common {
  name: 'cpu';
  /** The CPU provider's memory arena (default on). */
  useArena?: boolean;
}
export interface CudaProviderOptions extends Common, OptionsOf<typeof CUDA_KEYS> {
  name: 'cuda';
  /**
   * libonnxruntime_providers_cuda.so to register through ONNX Runtime's plugin route (which also
   * gives device memory): default ORT_CUDA_PROVIDER_PATH, then the optional package
   * com.github.asus4.onnxruntime.linux-x64-gpu. Without one, the core's own CUDA provider (the
   * library beside it). Either way the core must be a CUDA build: the bundled one is.
   */
  providerLibraryPath?: string;
}
export interface TensorRtProviderOptions extends Common, OptionsOf<typeof TENSORRT_KEYS> {
  name: 'tensorrt';
}
/** Any other provider, by ONNX Runtime's name ('XNNPACK', 'OpenVINO', ...), with its own option keys. */
export interface GenericProviderOptions extends Common {
  name: string;
  options?: Readonly<Record<string, string>>;
}
/** A provider by name (onnxruntime-node's names; skipped with a warning where unavailable), or with options. */
export type ExecutionProviderName = 'cpu' | 'cuda' | 'tensorrt' | 'xnnpack' | 'coreml' | 'dml' | 'webgpu' | 'wasm' | 'webgl' | 'webnn' | 'qnn' | 'openvino' | 'nnapi' | 'migraphx';
export type ExecutionProviderConfig =
  | ExecutionProviderName
  | (string & {}) // any other provider by ONNX Runtime's name
  | CpuProviderOptions
  | CudaProviderOptions
  | TensorRtProviderOptions
  | GenericProviderOptions;

/** What the addon takes for one provider. */
export interface NativeProvider {
  kind: 'cpu' | 'cuda' | 'tensorrt' | 'generic';
  name?: string;
  keys: string[];
  values: string[];
  useArena?: boolean;
  libraryPath?: string;
  fallback?: boolean;
}

function encode(what: string, value: unknown, kind: Kind): string {
  if (Array.isArray(kind)) {
    if (!kind.includes(value as string)) throw invalid(what, `one of ${kind.map((k) => `'${k}'`).join(', ')}`, value);
    return value as string;
  }
  switch (kind) {
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(what, 'a non-negative integer', value);
      return String(value);
    case 'bool':
      if (typeof value !== 'boolean') throw invalid(what, 'a boolean', value);
      return value ? '1' : '0';
    case 'string':
      if (typeof value !== 'string') throw invalid(what, 'a string', value);
      return value;
    default: {
      // { input: [1, 3, 224, 224] } -> "input:1x3x224x224"
      if (!isPlainObject(value)) throw invalid(what, 'an object mapping input names to dims', value);
      return Object.entries(value)
        .map(([input, dims]) => {
          if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw invalid(`${what}.${input}`, 'an array of non-negative integers', dims);
          return `${input}:${dims.join('x')}`;
        })
        .join(',');
    }
  }
}

function mapped(what: string, options: Record<string, unknown>, table: Record<string, readonly [string, Kind]>, own: readonly string[]): { keys: string[]; values: string[] } {
  checkKeys(what, options, [...own, ...Object.keys(table)]);
  const keys: string[] = [];
  const values: string[] = [];
  for (const [key, [ortKey, kind]] of Object.entries(table)) {
    if (options[key] === undefined) continue;
    keys.push(ortKey);
    values.push(encode(`${what}.${key}`, options[key], kind));
  }
  return { keys, values };
}

/**
 * The CUDA provider library to register through the plugin route (see
 * CudaProviderOptions.providerLibraryPath); undefined: the core's own CUDA provider. Only a
 * CUDA-capable core takes either: the addon refuses CUDA on a CPU-only one.
 */
export function cudaLibrary(explicit: unknown, libraryPath: string): string | undefined {
  if (explicit !== undefined) return explicit as string;
  if (process.env.ORT_CUDA_PROVIDER_PATH) return process.env.ORT_CUDA_PROVIDER_PATH;
  try {
    const pkg = require.resolve('com.github.asus4.onnxruntime.linux-x64-gpu/package.json');
    const path = join(dirname(pkg), 'Plugins', 'Linux', 'x64', 'libonnxruntime_providers_cuda.so');
    if (existsSync(path)) return path;
  } catch {
    // the optional package is not installed
  }
  return undefined; // a provider library beside a CUDA build of the core is that core's own
}

/** onnxruntime-node's lower-case provider names, as ONNX Runtime names them. */
const ONNXRUNTIME_NODE_NAMES: Readonly<Record<string, string>> = {
  xnnpack: 'XNNPACK',
  coreml: 'CoreML',
  dml: 'DML',
  webgpu: 'WebGPU',
  qnn: 'QNN',
  openvino: 'OpenVINO',
  nnapi: 'NNAPI',
  migraphx: 'MIGraphX',
};

/**
 * Validates `executionProviders` and turns each entry into ONNX Runtime's keys and values. A name
 * alone ('cuda', 'xnnpack', ...) behaves as in onnxruntime-node: a provider the core cannot give
 * is skipped with a warning in the log. The object form fails instead, unless it says `fallback: true`.
 */
export function normalizeExecutionProviders(value: unknown, libraryPath: string): NativeProvider[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid('session options.executionProviders', 'an array', value);
  return value.map((entry: unknown, i): NativeProvider => {
    const what = `session options.executionProviders[${i}]`;
    const named = typeof entry === 'string';
    const options: Record<string, unknown> = named ? { name: Object.hasOwn(ONNXRUNTIME_NODE_NAMES, entry) ? ONNXRUNTIME_NODE_NAMES[entry] : entry, fallback: true } : isPlainObject(entry) ? entry : {};
    if (typeof options.name !== 'string' || options.name.length === 0) throw invalid(what, "a provider name ('cpu', 'cuda', 'tensorrt', ...) or { name, ...options }", entry);
    if (options.fallback !== undefined && typeof options.fallback !== 'boolean') throw invalid(`${what}.fallback`, 'a boolean', options.fallback);
    const fallback = options.fallback as boolean | undefined;
    switch (options.name) {
      case 'cpu':
        checkKeys(what, options, ['name', 'useArena', 'fallback']);
        if (options.useArena !== undefined && typeof options.useArena !== 'boolean') throw invalid(`${what}.useArena`, 'a boolean', options.useArena);
        return { kind: 'cpu', keys: [], values: [], useArena: options.useArena as boolean | undefined, fallback };
      case 'cuda': {
        if (options.providerLibraryPath !== undefined && typeof options.providerLibraryPath !== 'string') throw invalid(`${what}.providerLibraryPath`, 'a string', options.providerLibraryPath);
        const { keys, values } = mapped(what, options, CUDA_KEYS, ['name', 'fallback', 'providerLibraryPath']);
        return { kind: 'cuda', keys, values, libraryPath: cudaLibrary(options.providerLibraryPath, libraryPath), fallback };
      }
      case 'tensorrt':
        return { kind: 'tensorrt', ...mapped(what, options, TENSORRT_KEYS, ['name', 'fallback']), fallback };
      default: {
        checkKeys(what, options, ['name', 'options', 'fallback']);
        const own = options.options === undefined ? {} : options.options;
        if (!isPlainObject(own)) throw invalid(`${what}.options`, 'an object of string values', own);
        const keys = Object.keys(own);
        keys.forEach((k) => {
          if (typeof own[k] !== 'string') throw invalid(`${what}.options.${k}`, 'a string', own[k]);
        });
        return { kind: 'generic', name: options.name, keys, values: keys.map((k) => own[k] as string), fallback };
      }
    }
  });
}
