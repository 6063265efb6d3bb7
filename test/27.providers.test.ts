// 27.providers: execution provider options are typed, mapped to ONNX Runtime's keys, and fail clearly
// where the loaded library lacks the provider (no GPU is needed for any of this).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { addMul } from './support/models.js';
import { env, InferenceSession, OrtError, Tensor, type Ort } from './support/ort.js';

const require = createRequire(import.meta.url);
const { normalizeExecutionProviders } = require('../dist/providers.js') as typeof import('../lib/providers.js');
const feeds = () => ({ a: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]), b: new Tensor('float32', new Float32Array([1, 1, 1]), [1, 3]) });

// On a machine with CUDA and its provider, CUDA is not missing: that machine runs test/98 instead.
const cudaHere = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'cuda' }] }).then(
  (session) => session.release().then(() => true),
  () => false,
);
if (cudaHere) console.log('skipping the missing-CUDA fallback case: this machine has CUDA and its provider (test/98 covers CUDA here)');

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

  // A CPU-only core (com.github.asus4.onnxruntime's, a devDependency) cannot host the CUDA provider:
  // it would crash the process on most models. Each case runs in a child process on that core.
  const cpuOnlyCore = (() => {
    try {
      return join(dirname(require.resolve('com.github.asus4.onnxruntime/package.json')), 'Plugins', 'Linux', 'x64', 'libonnxruntime.so');
    } catch {
      return undefined;
    }
  })();
  if (!cpuOnlyCore) console.log('skipping the CPU-only-core refusal tests: no CPU-only ONNX Runtime core is installed (com.github.asus4.onnxruntime)');
  const onCpuOnlyCore = (code: string) => {
    const child = spawnSync(process.execPath, ['-e', `const { InferenceSession, Tensor, env } = require('ort-napi'); const model = ${JSON.stringify(Array.from(addMul()))};
      (async () => {\n${code}\n})().then(() => console.log('DONE'), (e) => console.log('FAILED', e.stack));`], {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
      env: { ...process.env, ORT_DYLIB_PATH: cpuOnlyCore },
      timeout: 60_000,
    });
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toContain('DONE');
    return child.stdout;
  };

  test.runIf(cpuOnlyCore)('CUDA on a CPU-only core is refused, saying how to get a CUDA-capable one; no provider library is loaded into it', () => {
    const library = '/nonexistent/libonnxruntime_providers_cuda.so';
    const out = onCpuOnlyCore(`
      console.log(JSON.stringify(env.getAvailableProviders()));
      const bytes = Uint8Array.from(model);
      for (const provider of [{ name: 'cuda', deviceId: 0 }, { name: 'cuda', providerLibraryPath: ${JSON.stringify(library)} }]) {
        const error = await InferenceSession.create(bytes, { executionProviders: [provider] }).catch((e) => e);
        console.log('REFUSED', error.code, error.message);
      }
      // With fallback, the refusal is logged and the CPU provider serves.
      const session = await InferenceSession.create(bytes, { executionProviders: [{ name: 'cuda', fallback: true }] });
      const { sum } = await session.run({ a: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]), b: new Tensor('float32', new Float32Array([1, 1, 1]), [1, 3]) });
      console.log('SERVED', Array.from(sum.data).join());
      try { Tensor.allocate('float32', [4], { device: 'cuda' }); } catch (e) { console.log('REFUSED', e.code, e.message); }
      const binding = session.createIoBinding();
      try { binding.bindOutput('sum', { device: 'cuda' }); } catch (e) { console.log('REFUSED', e.code, e.message); }`);
    expect(out).toContain('["CPUExecutionProvider"]');
    const refusals = out.split('\n').filter((line) => line.startsWith('REFUSED'));
    expect(refusals).toHaveLength(4);
    for (const line of refusals) {
      expect(line).toMatch(/^REFUSED EP_FAIL .*CUDA needs a CUDA-capable ONNX Runtime core, and the loaded one \(.*libonnxruntime\.so, 1\.29\.0\) is a CPU-only build/);
      expect(line).toContain('Point ORT_DYLIB_PATH');
      expect(line).not.toContain(library);
    }
    expect(out).toContain('SERVED 2,3,4');
  });

  // ONNX Runtime loads a provider library built on its provider bridge (the CUDA provider is one)
  // only after libonnxruntime_providers_shared.so from the core's own folder, which hands the
  // library the core (Provider_GetHost). The bundled cores come without one, so the CUDA provider
  // failed to load ("undefined symbol: Provider_GetHost") until ort-napi shipped its own beside
  // them. A stand-in provider library, compiled here, asks for the core at load time.
  const compiler = ['c++', 'g++'].find((cc) => spawnSync(cc, ['--version']).status === 0);
  if (!compiler) console.log('skipping the provider-bridge loading tests: no C++ compiler (c++ or g++) to build a stand-in provider library');
  const bridgeProbe = (env: Record<string, string>, library: string) => {
    const child = spawnSync(process.execPath, ['-e', `const { InferenceSession } = require('ort-napi'); const model = Uint8Array.from(${JSON.stringify(Array.from(addMul()))});
      InferenceSession.create(model, { executionProviders: [{ name: 'cuda', providerLibraryPath: ${JSON.stringify(library)} }] })
        .then(() => console.log('CREATED'), (e) => console.log('REFUSED', e.code, e.message));`], { cwd: join(__dirname, '..'), encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    return child.stdout;
  };
  test.runIf(compiler && process.platform === 'linux')('a provider library built on the provider bridge reaches the core through the libonnxruntime_providers_shared.so beside it; without one, the error says where it belongs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-napi-bridge-'));
    writeFileSync(join(dir, 'probe.cc'), `#include <unistd.h>
      extern "C" void* Provider_GetHost();  // resolved at load time, from libonnxruntime_providers_shared.so
      __attribute__((constructor)) static void probe() {
        const char* line = Provider_GetHost() != nullptr ? "PROVIDER HOST SET\\n" : "PROVIDER HOST NULL\\n";
        int n = 0;
        while (line[n] != 0) n++;
        if (write(1, line, n) < 0) _exit(9);
      }`);
    const library = join(dir, 'libprobe_provider.so');
    const cc = spawnSync(compiler!, ['-shared', '-fPIC', '-o', library, join(dir, 'probe.cc')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);

    const bundled = join(__dirname, '..', 'prebuilds', `linux-${process.arch}`);
    expect(existsSync(join(bundled, 'libonnxruntime_providers_shared.so'))).toBe(true);
    // The bundled core: the library loads, and finds the host the core set. It is no provider (it
    // has no CreateEpFactories), so the create fails after that, with ONNX Runtime's reason.
    const beside = bridgeProbe({}, library);
    expect(beside).toContain('PROVIDER HOST SET');
    expect(beside).toMatch(/^REFUSED EP_FAIL execution provider 'cuda' is unavailable: could not load the CUDA provider library .*CreateEpFactories/m);
    expect(beside).not.toContain('Provider_GetHost');

    // A copy of the same core alone in a folder: ONNX Runtime cannot load the library, and the
    // error says what is missing and where.
    const lone = join(dir, 'core');
    mkdirSync(lone);
    copyFileSync(join(bundled, 'libonnxruntime.so.1'), join(lone, 'libonnxruntime.so.1'));
    const alone = bridgeProbe({ ORT_DYLIB_PATH: join(lone, 'libonnxruntime.so.1') }, library);
    expect(alone).not.toContain('PROVIDER HOST');
    expect(alone).toContain('undefined symbol: Provider_GetHost');
    expect(alone).toContain(`the loaded core has no libonnxruntime_providers_shared.so beside it, in ${lone}/`);
    rmSync(dir, { recursive: true, force: true });
  });

  test('TensorRT and unknown providers fail with ONNX Runtime’s reason', async () => {
    const trt = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'tensorrt' }] }).catch((e) => e);
    expect(trt).toBeInstanceOf(OrtError);
    expect(trt.message).toMatch(/^execution provider 'tensorrt' is unavailable: .*TensorRT/);
    const unknown = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'NoSuchProvider' }] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(OrtError);
    expect(unknown.message).toMatch(/^execution provider 'NoSuchProvider' is unavailable: .*NoSuchProvider/);
  });

  test('provider names alone behave as in onnxruntime-node: one the core lacks is skipped with a warning; the object form fails', async () => {
    const heard: string[] = [];
    env.logger = (severity, category, logId, at, message) => heard.push(`${severity}: ${message}`);
    try {
      const session = await InferenceSession.create(addMul(), { executionProviders: ['xnnpack', 'wasm', 'cpu'] });
      expect(Array.from((await session.run(feeds())).sum.data as Float32Array)).toEqual([2, 3, 4]);
      await session.release();
      await new Promise((r) => setTimeout(r, 30));
    } finally {
      env.logger = undefined;
    }
    expect(heard.some((m) => /^warning: execution provider 'XNNPACK' is unavailable: .*; falling back to the next provider$/.test(m))).toBe(true);
    expect(heard.some((m) => /^warning: execution provider 'wasm' is unavailable: .*; falling back to the next provider$/.test(m))).toBe(true);
    const strict = await InferenceSession.create(addMul(), { executionProviders: [{ name: 'XNNPACK' }] }).catch((e) => e);
    expect(strict).toBeInstanceOf(OrtError);
    expect(strict.message).toMatch(/^execution provider 'XNNPACK' is unavailable: /);
  });

  test.skipIf(cudaHere)('with fallback, a missing provider is logged and the next one serves', async () => {
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
