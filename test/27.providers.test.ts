// 27.providers: execution provider options are typed, mapped to ONNX Runtime's keys, and fail clearly
// where the loaded library lacks the provider (no GPU is needed for any of this).
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { addMul } from './support/models.js';
import { env, InferenceSession, OrtError, Tensor, type Ort } from './support/ort.js';

const require = createRequire(import.meta.url);
const { normalizeExecutionProviders } = require('../dist/providers.js') as typeof import('../lib/providers.js');
const feeds = () => ({ a: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]), b: new Tensor('float32', new Float32Array([1, 1, 1]), [1, 3]) });

describe('execution providers', () => {
  test("'cpu' and { name: 'cpu', useArena } run the model", async () => {
    for (const providers of [['cpu'], [{ name: 'cpu', useArena: false }]] as Ort.ExecutionProviderConfig[][]) {
      const session = await InferenceSession.create(addMul(), { executionProviders: providers });
      expect(Array.from((await session.run(feeds())).sum.data as Float32Array)).toEqual([2, 3, 4]);
    }
  });

  test('CUDA options map 1:1 to ONNX Runtime keys', () => {
    const [cuda] = normalizeExecutionProviders(
      [{ name: 'cuda', deviceId: 1, gpuMemLimit: 2 ** 31, arenaExtendStrategy: 'kSameAsRequested', cudnnConvAlgoSearch: 'HEURISTIC', doCopyInDefaultStream: true, enableCudaGraph: false, preferNhwc: true, providerLibraryPath: '/x/libonnxruntime_providers_cuda.so' }],
      '/lib/libonnxruntime.so',
    )!;
    expect(cuda).toEqual({
      kind: 'cuda',
      keys: ['device_id', 'gpu_mem_limit', 'arena_extend_strategy', 'cudnn_conv_algo_search', 'do_copy_in_default_stream', 'enable_cuda_graph', 'prefer_nhwc'],
      values: ['1', '2147483648', 'kSameAsRequested', 'HEURISTIC', '1', '0', '1'],
      libraryPath: '/x/libonnxruntime_providers_cuda.so',
      fallback: undefined,
    });
  });

  test('TensorRT options map to trt_ keys, profile shapes included', () => {
    const [trt] = normalizeExecutionProviders(
      [{ name: 'tensorrt', fp16Enable: true, engineCacheEnable: true, engineCachePath: '/cache', profileMinShapes: { x: [1, 3], y: [1, 3] }, profileMaxShapes: { x: [8, 3] }, builderOptimizationLevel: 3 }],
      '',
    )!;
    expect(Object.fromEntries(trt.keys.map((k, i) => [k, trt.values[i]]))).toEqual({
      trt_fp16_enable: '1',
      trt_engine_cache_enable: '1',
      trt_engine_cache_path: '/cache',
      trt_profile_min_shapes: 'x:1x3,y:1x3',
      trt_profile_max_shapes: 'x:8x3',
      trt_builder_optimization_level: '3',
    });
  });

  test.each([
    [[{ name: 'cuda', deviceID: 0 }], "session options.executionProviders[0] has an unknown option 'deviceID'"],
    [[{ name: 'cuda', gpuMemLimit: '2GB' }], 'session options.executionProviders[0].gpuMemLimit must be a non-negative integer; received the string "2GB"'],
    [[{ name: 'cuda', cudnnConvAlgoSearch: 'FAST' }], "session options.executionProviders[0].cudnnConvAlgoSearch must be one of 'EXHAUSTIVE', 'HEURISTIC', 'DEFAULT'"],
    [[{ name: 'tensorrt', fp16Enable: 1 }], 'session options.executionProviders[0].fp16Enable must be a boolean; received number 1'],
    [[{ name: 'tensorrt', profileMinShapes: { x: [1, -3] } }], 'session options.executionProviders[0].profileMinShapes.x must be an array of non-negative integers'],
    [['cpu', { name: 'XNNPACK', options: { intra_op_num_threads: 2 } }], 'session options.executionProviders[1].options.intra_op_num_threads must be a string; received number 2'],
    [[{ name: 'cpu', useArena: 'no' }], 'session options.executionProviders[0].useArena must be a boolean'],
    [[42], "session options.executionProviders[0] must be a provider name ('cpu', 'cuda', 'tensorrt', ...) or { name, ...options }; received number 42"],
  ])('bad provider options are named %#', async (providers, message) => {
    await expect(InferenceSession.create(addMul(), { executionProviders: providers as never })).rejects.toThrow(message);
  });

  // The bundled core is a CPU-only build: the CUDA provider would crash it on most models.
  const cpuOnlyCore = !env.getAvailableProviders().includes('CUDAExecutionProvider');
  if (!cpuOnlyCore) console.log('skipping the CPU-only-core refusal tests: the loaded ONNX Runtime core has CUDA');

  test.runIf(cpuOnlyCore)('asking for CUDA on a CPU-only core is refused, saying how to get a CUDA-capable one', async () => {
    const error = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'cuda', deviceId: 0 }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe('EP_FAIL');
    expect(error.message).toMatch(/^execution provider 'cuda' is unavailable: CUDA needs a CUDA-capable ONNX Runtime core, and the loaded one \(.*libonnxruntime\.so, 1\.\d+\.\d+\) is a CPU-only build/);
    expect(error.message).toContain('Point ORT_DYLIB_PATH');
    expect(error.message).toContain('onnxruntime-node@1.29.0');
  });

  test.runIf(cpuOnlyCore)('a CUDA provider library is never loaded into a CPU-only core, even when named', async () => {
    const library = '/nonexistent/libonnxruntime_providers_cuda.so';
    const error = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'cuda', providerLibraryPath: library }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe('EP_FAIL');
    expect(error.message).toContain('CUDA needs a CUDA-capable ONNX Runtime core');
    expect(error.message).not.toContain(library);
    // With fallback, the refusal is logged and the CPU provider serves.
    const session = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'cuda', providerLibraryPath: library, fallback: true }] });
    await session.release();
  });

  test('TensorRT and unknown providers fail with ONNX Runtime’s reason', async () => {
    const trt = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'tensorrt' }] }).catch((e) => e);
    expect(trt).toBeInstanceOf(OrtError);
    expect(trt.message).toMatch(/^execution provider 'tensorrt' is unavailable: .*TensorRT/);
    const unknown = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'NoSuchProvider' }] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(OrtError);
    expect(unknown.message).toMatch(/^execution provider 'NoSuchProvider' is unavailable: .*NoSuchProvider/);
  });

  test('with fallback, a missing provider is logged and the next one serves', async () => {
    const heard: string[] = [];
    env.logger = (severity, category, logId, at, message) => heard.push(`${severity}: ${message}`);
    try {
      const session = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'cuda', fallback: true }, 'cpu'] });
      expect(Array.from((await session.run(feeds())).sum.data as Float32Array)).toEqual([2, 3, 4]);
      await new Promise((r) => setTimeout(r, 30));
    } finally {
      env.logger = undefined;
    }
    expect(heard.some((m) => /^warning: execution provider 'cuda' is unavailable: .*; falling back to the next provider$/.test(m))).toBe(true);
    expect(env.versions.cudaRoute).toBeUndefined();
  });
});
