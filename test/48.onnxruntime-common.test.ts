// 48.onnxruntime-common: once ort-napi is loaded, code written against onnxruntime-common runs on
// it, with the results onnxruntime-node gives for the same calls (run side by side: onnxruntime-node
// 1.30 in a child process, since both register with the one onnxruntime-common).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ort } from './support/ort.js';

const require = createRequire(import.meta.url);
const root = resolve(__dirname, '..');
const model = join(root, 'test', 'fixtures', 'linear.onnx');

/**
 * The same calls, through onnxruntime-common, made in a child process that loads `binding`
 * (ort-napi or onnxruntime-node) and prints what it saw as JSON.
 */
function through(binding: string) {
  const script = `require(${JSON.stringify(binding)});
    const common = require('onnxruntime-common');
    (async () => {
      const seen = {};
      const session = await common.InferenceSession.create(${JSON.stringify(model)}, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', preferredOutputLocation: 'cpu' });
      seen.inputNames = session.inputNames;
      seen.outputNames = session.outputNames;
      seen.inputMetadata = session.inputMetadata.map(({ name, isTensor, type, shape }) => ({ name, isTensor, type, shape }));
      const x = new common.Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const out = await session.run({ x });
      seen.isCommonTensor = out.y instanceof common.Tensor;
      seen.y = { type: out.y.type, dims: out.y.dims, data: Array.from(out.y.data), location: out.y.location };
      const fetched = await session.run({ x }, ['y'], { tag: 'a run', logSeverityLevel: 3, extra: { memory: { enable_memory_arena_shrinkage: 'cpu:0' } } });
      seen.fetched = Array.from(fetched.y.data);
      const pre = new common.Tensor('float32', new Float32Array(4), [2, 2]);
      const into = await session.run({ x }, { y: pre });
      seen.preallocated = { same: into.y === pre || into.y.data === pre.data, data: Array.from(pre.data) };
      seen.terminated = await session.run({ x }, { terminate: true }).then(() => 'ran', (e) => e.message);
      seen.badFeed = await session.run({ x: new common.Tensor('float32', new Float32Array(4), [2, 2]) }).then(() => 'ran', () => 'rejected');
      await session.release();
      console.log(JSON.stringify(seen));
    })().catch((e) => { console.log(JSON.stringify({ failed: e.stack })); process.exit(3); });`;
  const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect(child.status, child.stdout + child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}

describe('onnxruntime-common runs on ort-napi', () => {
  test('ort-napi registers as its backend for cpu, cuda and tensorrt', () => {
    const names = ort.listSupportedBackends().map((b) => b.name);
    expect(names).toEqual(['cpu', 'cuda', 'tensorrt']);
    expect(ort.listSupportedBackends()[0]).toEqual({ name: 'cpu', bundled: true });
  });

  test('the same calls give what onnxruntime-node gives: names, metadata, outputs, fetches, preallocated outputs, terminate, a bad feed', () => {
    let nodeSide: ReturnType<typeof through>;
    try {
      require.resolve('onnxruntime-node');
      nodeSide = through('onnxruntime-node');
    } catch (error) {
      console.log(`skipping the side-by-side half: onnxruntime-node did not load (${(error as Error).message.split('\n')[0]})`);
      nodeSide = undefined;
    }
    const ours = through('ort-napi');
    expect(ours.isCommonTensor).toBe(true);
    expect(ours.y).toEqual({ type: 'float32', dims: [2, 2], data: [4.5, 4.5, 10.5, 10.5], location: 'cpu' });
    expect(ours.terminated).toMatch(/terminate/i);
    expect(ours.badFeed).toBe('rejected');
    // Deliberate differences from onnxruntime-node 1.30 (error texts aside: ours name the input):
    // - a preallocated output comes back as the caller's own Tensor (onnxruntime-node returns another
    //   Tensor over a copy; both write the caller's);
    // - `terminate: true` sets ONNX Runtime's terminate flag, so the run fails at once, as
    //   onnxruntime-common documents it; onnxruntime-node 1.30 runs it anyway.
    expect(ours.preallocated).toEqual({ same: true, data: [4.5, 4.5, 10.5, 10.5] });
    if (nodeSide) {
      expect(nodeSide.preallocated).toEqual({ same: false, data: [4.5, 4.5, 10.5, 10.5] });
      expect(nodeSide.terminated).toBe('ran');
      const comparable = (seen: Record<string, unknown>) => ({ ...seen, preallocated: undefined, terminated: undefined });
      expect(comparable(ours)).toEqual(comparable(nodeSide));
    }
  });

  test('env: onnxruntime-common\'s web settings are there and shared, and versions name onnxruntime-common', () => {
    const common = require('onnxruntime-common') as typeof import('onnxruntime-common');
    ort.env.wasm.numThreads = 1;
    ort.env.webgpu.powerPreference = 'low-power';
    expect(common.env.wasm.numThreads).toBe(1);
    expect(ort.env.webgl).toBe(common.env.webgl);
    expect(ort.env.versions.common).toBe(common.env.versions.common);
    expect(ort.env.versions.node).toBe(ort.env.versions.ortNapi);
    // debug and trace are onnxruntime-common's own settings (its TRACE functions read trace).
    ort.env.trace = true;
    expect(common.env.trace).toBe(true);
    ort.env.trace = undefined;
    common.env.debug = true;
    expect(ort.env.debug).toBe(true);
    common.env.debug = undefined;
    expect(() => (ort.env.trace = 'yes' as never)).toThrow('env.trace must be a boolean or undefined; received the string "yes"');
    ort.env.someFlag = 1; // other settings are kept by name, as onnxruntime-common's env keeps them
    expect(ort.env.someFlag).toBe(1);
  });

  test('sessions made through onnxruntime-common never raise the release warning', () => {
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', '-e', `require('ort-napi'); const common = require('onnxruntime-common');
        process.on('warning', (w) => console.log('WARNING', w.code));
        (async () => {
          for (let i = 0; i < 3; i++) await common.InferenceSession.create(${JSON.stringify(model)});
          for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
          console.log('DONE');
        })();`],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toContain('DONE');
    expect(child.stdout).not.toContain('ORT_NAPI_NOT_RELEASED');
  });
});
