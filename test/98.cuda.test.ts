// 98.cuda: CUDA on a machine that has it (a GPU, the CUDA 13 libraries, and the CUDA provider:
// see the README). Elsewhere these tests are skipped, and the reason is printed.
// `npm run test:gpu` runs just these, fails if CUDA is missing, and prints their figures.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { mlp } from './support/mlp.js';
import { callbackModel, identity, random } from './support/models.js';
import { InferenceSession, env, Tensor } from './support/ort.js';

const requireGpu = process.env.ORT_NAPI_REQUIRE_GPU === '1';

async function cudaUnavailable(): Promise<string | undefined> {
  try {
    const probe = await InferenceSession.create(identity('float32', ['n']), { executionProviders: [{ name: 'cuda' }] });
    await probe.release();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const reason = await cudaUnavailable();
if (reason && !requireGpu) console.log(`[98.cuda] CUDA tests skipped: ${reason}`);

describe.skipIf(reason !== undefined && !requireGpu)('CUDA', () => {
  test('CUDA is reachable', () => {
    expect(reason).toBeUndefined();
    console.log(`[98.cuda] CUDA route: ${env.versions.cudaRoute}`);
  });

  test('CUDA results equal CPU results: tight with TF32 off, within TF32’s precision with ONNX Runtime’s default', async () => {
    const cpu = await InferenceSession.create(mlp());
    const x = new Tensor('float32', random(64 * 32, 9), [64, 32]);
    const want = (await cpu.run({ x })).y.data as Float32Array;
    // TF32 rounds MatMul's operands to 10 mantissa bits, a relative error up to 2^-11 each, 2^-10
    // in a product; summed over 32 and then 64 terms of either sign, an output's error scales with
    // the largest outputs, not with its own value. Measured on an H200 (max |y| 15.5): 2.7e-3 and
    // 6.8e-3 in two runs, that is 2^-12.5 and 2^-11.2 of max |y|; the bound is 2^-9 of it. With
    // TF32 off the error was 2.9e-6, within the FP32 bound of 1e-5 relative.
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const [useTf32, rtol, atol] of [[false, 1e-5, 1e-6], [undefined, 0, 2 ** -9 * scale]] as const) {
      const gpu = await InferenceSession.create(mlp(), { executionProviders: [{ name: 'cuda', deviceId: 0, ...(useTf32 === undefined ? {} : { useTf32 }) }] });
      const got = (await gpu.run({ x })).y.data as Float32Array;
      let worst = 0;
      want.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(got[i] - v));
        expect(Math.abs(got[i] - v), `useTf32 ${useTf32} at ${i}`).toBeLessThanOrEqual(atol + rtol * Math.abs(v));
      });
      console.log(`[98.cuda] MLP on CUDA (useTf32 ${useTf32 ?? 'default'}) against the CPU: largest difference ${worst.toExponential(2)}, max |y| ${scale.toFixed(2)}`);
      const start = performance.now();
      for (let i = 0; i < 100; i++) await gpu.run({ x });
      console.log(`[98.cuda] MLP at batch 64 on CUDA (useTf32 ${useTf32 ?? 'default'}): ${((performance.now() - start) / 100).toFixed(3)} ms a run`);
      await gpu.release();
    }
  });

  test('a model whose CUDA kernels call back into the core (Concat, Split, Slice, Pad, GatherElements, If) runs and agrees with CPU', async () => {
    // On a CPU-only core this model's CUDA run crashed the process (SIGSEGV in the core, called from
    // the CUDA provider): it runs in a child process, so a crash fails the test instead of the run.
    const model = callbackModel();
    const script = `const { InferenceSession, Tensor } = require('ort-napi');
      (async () => {
        const model = Uint8Array.from(${JSON.stringify(Array.from(model))});
        const x = new Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => Math.sin(i) * 3), [2, 8]);
        const out = {};
        for (const [name, providers] of [['cpu', ['cpu']], ['cuda', [{ name: 'cuda', useTf32: false }]]]) {
          const session = await InferenceSession.create(model, { executionProviders: providers });
          for (const flag of [true, false]) out[name + flag] = Array.from((await session.run({ x, flag: new Tensor('bool', [flag], []) })).y.data);
        }
        console.log(JSON.stringify(out));
      })().catch((e) => { console.log('FAILED', e.message); process.exit(3); });`;
    const child = spawnSync(process.execPath, ['-e', script], { cwd: resolve(__dirname, '..'), encoding: 'utf8', timeout: 120_000 });
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stdout + child.stderr).toBe(0);
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, number[]>;
    for (const flag of ['true', 'false']) {
      out[`cpu${flag}`].forEach((v, i) => expect(Math.abs(out[`cuda${flag}`][i] - v)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(v)));
    }
    expect(out.cputrue).not.toEqual(out.cpufalse); // both branches of If ran
  });

  test('device tensors: allocated on the GPU, unreadable in place, copied to the host on request', async () => {
    const t = Tensor.allocate('float32', [2, 3], { device: 'cuda', deviceId: 0 });
    expect(t.location).toBe('cuda');
    expect(t.deviceId).toBe(0);
    expect(() => t.data).toThrow('this Tensor lives in cuda memory (device 0): read it with await tensor.getData()');
    expect((await t.getData()).length).toBe(6);
    t.release();
  });

  test('an I/O binding keeps outputs on the GPU between runs', async () => {
    const model = identity('float32', ['n', 4]);
    const session = await InferenceSession.create(model, { executionProviders: ['cuda'] });
    const first = session.createIoBinding();
    first.bindInput('x', new Tensor('float32', new Float32Array([1, 2, 3, 4]), [1, 4]));
    first.bindOutput('y', { device: 'cuda', deviceId: 0 });
    await session.runWithBinding(first);
    first.synchronizeOutputs();
    const onGpu = first.getOutputs().y;
    expect(onGpu.location).toBe('cuda');
    // The GPU output feeds the next run without visiting the host.
    const second = session.createIoBinding();
    second.bindInput('x', onGpu);
    const out = Tensor.allocate('float32', [1, 4], { device: 'cuda' });
    second.bindOutput('y', out);
    await session.runWithBinding(second);
    second.synchronizeOutputs();
    expect(Array.from(await out.getData())).toEqual([1, 2, 3, 4]);
  });

  test('gpuMemLimit is honoured', async () => {
    const model = identity('float32', ['n']);
    const big = new Tensor('float32', new Float32Array(16 * 2 ** 20), [16 * 2 ** 20]); // 64 MiB
    const tight = await InferenceSession.create(model, { executionProviders: [{ name: 'cuda', gpuMemLimit: 16 * 2 ** 20 }] });
    await expect(tight.run({ x: big })).rejects.toThrow(/memory|allocate/i);
    const roomy = await InferenceSession.create(model, { executionProviders: [{ name: 'cuda', gpuMemLimit: 2 ** 30 }] });
    expect((await roomy.run({ x: big })).y.size).toBe(big.size);
  });
});
