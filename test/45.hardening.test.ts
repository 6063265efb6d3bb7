// 45.hardening: memory a caller lends us changing under a run, values ONNX Runtime would misread,
// and the native boundary itself. Anything that could crash runs in a child process, and the test
// asserts how that process ended.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runSyncDescribed } from './support/native-run.js';
import { identity, matmul, slowChain } from './support/models.js';
import { buildModel, unaryModel } from './support/onnx.js';
import { InferenceSession, Tensor } from './support/ort.js';

const require = createRequire(import.meta.url);
const root = resolve(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ort-napi-hardening-'));
const slowModel = join(dir, 'slow.onnx');
writeFileSync(slowModel, slowChain(512, 24));

/** Runs `code` (CommonJS, with `ort` = require('ort-napi') and `model` = a slow n=512 model's path) in a child. */
function child(code: string, env: NodeJS.ProcessEnv = {}, timeout = 60_000) {
  const script = `const ort = require('ort-napi'); const { InferenceSession, Tensor } = ort; const model = ${JSON.stringify(slowModel)};\n(async () => {\n${code}\n})().catch((e) => { console.log('FAILED', e && e.stack); process.exit(9); });`;
  const result = spawnSync(process.execPath, ['--expose-gc', '-e', script], { cwd: root, encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  return { status: result.status, signal: result.signal, out: result.stdout + result.stderr };
}

function expectClean(run: ReturnType<typeof child>, marker = 'DONE') {
  expect(run.signal, run.out).toBeNull();
  expect(run.status, run.out).toBe(0);
  expect(run.out).toContain(marker);
}

describe('memory lent to a run', () => {
  test('a resizable ArrayBuffer is refused as an input, a preallocated output and model bytes', async () => {
    const session = await InferenceSession.create(identity('float32', [4]));
    const resizable = new ArrayBuffer(16, { maxByteLength: 64 });
    const x = new Tensor('float32', new Float32Array(resizable), [4]);
    await expect(session.run({ x })).rejects.toThrow("input 'x' is on a resizable ArrayBuffer, which could shrink while ONNX Runtime reads it");
    expect(() => session.runSync({ x })).toThrow(TypeError);
    const y = new Tensor('float32', new Float32Array(resizable), [4]);
    await expect(session.run({ x: new Tensor('float32', new Float32Array(4), [4]) }, { y })).rejects.toThrow("fetches['y'] is on a resizable ArrayBuffer");
    const bytes = identity('float32', [4]);
    const growing = new ArrayBuffer(bytes.length, { maxByteLength: bytes.length * 2 });
    new Uint8Array(growing).set(bytes);
    await expect(InferenceSession.create(new Uint8Array(growing))).rejects.toThrow('model bytes is on a resizable ArrayBuffer');
    // A growable SharedArrayBuffer is fine: it never shrinks, moves or detaches.
    const shared = new SharedArrayBuffer(16, { maxByteLength: 64 } as never);
    const s = new Float32Array(shared);
    s.set([1, 2, 3, 4]);
    expect(Array.from((await session.run({ x: new Tensor('float32', s, [4]) })).y.data as Float32Array)).toEqual([1, 2, 3, 4]);
    await session.release();
  });

  test('shrinking a resizable input mid-run cannot happen: the run is refused before it starts', () => {
    const run = child(`
      const session = await InferenceSession.create(model, { intraOpNumThreads: 1 });
      const ab = new ArrayBuffer(512 * 512 * 4, { maxByteLength: 512 * 512 * 4 });
      const x = new Tensor('float32', new Float32Array(ab), [512, 512]);
      const pending = session.run({ x }).then(() => 'ran', (e) => e.message);
      ab.resize(0);
      console.log(await pending);
      console.log('DONE');`);
    expectClean(run);
    expect(run.out).toContain('resizable ArrayBuffer');
  });

  test('an input transferred away mid-run (structuredClone, postMessage) and collected leaves the run intact', () => {
    const run = child(`
      const { MessageChannel } = require('node:worker_threads');
      const session = await InferenceSession.create(model, { intraOpNumThreads: 1 });
      const n = 512;
      const fill = (a) => { for (let i = 0; i < a.length; i++) a[i] = (i % 7) - 3; return a; };
      const expected = session.runSync({ x: new Tensor('float32', fill(new Float32Array(n * n)), [n, n]) }).y.data;
      for (let round = 0; round < 6; round++) {
        const data = fill(new Float32Array(n * n));
        const pending = session.run({ x: new Tensor('float32', data, [n, n]) });
        if (round % 2) { structuredClone(data.buffer, { transfer: [data.buffer] }); }
        else { const { port1, port2 } = new MessageChannel(); port1.postMessage(data.buffer, [data.buffer]); port1.close(); port2.close(); }
        for (let i = 0; i < 3; i++) { new Float32Array(n * n).fill(1e9); gc(); }
        const { y } = await pending;
        for (let i = 0; i < y.data.length; i += 997) if (y.data[i] !== expected[i]) throw new Error('wrong result at ' + i);
        if (data.buffer.byteLength !== n * n * 4) throw new Error('the lent buffer was detached');
      }
      console.log('DONE');`);
    expectClean(run);
  });

  // The README recommends outputs written in place for hot loops: the caller's tensor is lent
  // to the run as an input is, and transferring its buffer or dropping the tensor mid-run must
  // neither free the memory ONNX Runtime writes into nor lose the result.
  test('a preallocated output transferred away mid-run (structuredClone, postMessage) and collected gets the whole result', () => {
    const run = child(`
      const { MessageChannel } = require('node:worker_threads');
      const session = await InferenceSession.create(model, { intraOpNumThreads: 1 });
      const n = 512;
      const x = new Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => (i % 7) - 3), [n, n]);
      const expected = session.runSync({ x }).y.data;
      for (let round = 0; round < 6; round++) {
        let out = new Float32Array(n * n).fill(Number.NaN);
        const pending = session.run({ x }, { y: new Tensor('float32', out, [n, n]) });
        try {
          if (round % 2) structuredClone(out.buffer, { transfer: [out.buffer] });
          else { const { port1, port2 } = new MessageChannel(); port1.postMessage(out.buffer, [out.buffer]); port1.close(); port2.close(); }
        } catch (e) { if (e.name !== 'DataCloneError') throw e; } // Node 22+ refuses an untransferable buffer
        out = null;
        for (let i = 0; i < 3; i++) { new Float32Array(n * n).fill(1e9); gc(); }
        const { y } = await pending;
        if (y.data.buffer.byteLength !== n * n * 4) throw new Error('the lent buffer was detached');
        for (let i = 0; i < y.data.length; i += 997) if (y.data[i] !== expected[i]) throw new Error('wrong result at ' + i);
      }
      console.log('DONE');`);
    expectClean(run);
  });

  test('model bytes transferred and collected during create() still load', () => {
    const run = child(`
      const bytes = new Uint8Array(require('node:fs').readFileSync(model));
      const pending = InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
      gc();
      const session = await pending;
      console.log(session.inputNames.join(), 'DONE');`);
    expectClean(run);
  });

  test('an ORT-format model read in place (use_ort_model_bytes_directly) survives its bytes being overwritten', async () => {
    const ortPath = join(dir, 'linear.ort');
    const w = new Float32Array(64 * 64).map((_, i) => (i % 5) - 2);
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [1, 64] }],
      outputs: [{ name: 'y', type: 'float32', dims: [1, 64] }],
      initializers: [{ name: 'w', type: 'float32', dims: [64, 64], data: w }],
      nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
    });
    const saver = await InferenceSession.create(model, { optimizedModelFilePath: ortPath, sessionConfigEntries: { 'session.save_model_format': 'ORT' } });
    await saver.release();
    const bytes = new Uint8Array(readFileSync(ortPath));
    const session = await InferenceSession.create(bytes, {
      // Prepacking would copy the weight out of the bytes; without it MatMul reads it there.
      sessionConfigEntries: { 'session.use_ort_model_bytes_directly': '1', 'session.use_ort_model_bytes_for_initializers': '1', 'session.disable_prepacking': '1' },
    });
    const x = new Tensor('float32', new Float32Array(64).fill(1), [1, 64]);
    const before = Array.from((await session.run({ x })).y.data as Float32Array);
    bytes.fill(0xff); // NaN patterns, had ONNX Runtime kept reading the caller's array
    const after = Array.from((await session.run({ x })).y.data as Float32Array);
    expect(after).toEqual(before);
    expect(after.every(Number.isFinite)).toBe(true);
    await session.release();
  });
});

describe('a run waiting for the loop to turn (the per-turn budget, lib/inline.ts)', () => {
  test('an input detached (a BYOB stream read) while its run waits is refused when it starts, not read', () => {
    const run = child(`
      const session = await InferenceSession.create(model, { intraOpNumThreads: 1 });
      // The clock run() reads moves 0.6 ms at each read: the turn's 1 ms budget is spent at once,
      // so the second run waits for the loop to turn before it starts.
      const realNow = performance.now.bind(performance);
      let skew = 0;
      performance.now = () => realNow() + (skew += 0.6);
      const data = new Float32Array(512 * 512).fill(1);
      const first = session.run({ x: new Tensor('float32', new Float32Array(512 * 512).fill(1), [512, 512]) });
      const second = session.run({ x: new Tensor('float32', data, [512, 512]) });
      // A BYOB read detaches the view's buffer at once, even when it is marked untransferable.
      const stream = new ReadableStream({ type: 'bytes', pull(c) { c.byobRequest.view[0] = 1; c.byobRequest.respond(1); } });
      const read = stream.getReader({ mode: 'byob' }).read(new Uint8Array(data.buffer));
      console.log('DETACHED', data.length === 0);
      for (let i = 0; i < 3; i++) gc();
      console.log(await second.then(() => 'RAN', (e) => e.message));
      console.log('FIRST', (await first).y.data.length);
      await read;
      console.log('DONE');`);
    expectClean(run);
    expect(run.out).toContain('DETACHED true');
    expect(run.out).toContain("input 'x': its ArrayBuffer is detached");
    expect(run.out).not.toContain('RAN');
    expect(run.out).toContain('FIRST 262144');
  });
});

describe('I/O binding re-checks what it holds', () => {
  test('a bound input detached after binding (a BYOB stream read) is refused at the next run, not read', () => {
    const run = child(`
      const session = await InferenceSession.create(model, { intraOpNumThreads: 1 });
      const binding = session.createIoBinding();
      const data = new Float32Array(512 * 512).fill(1);
      binding.bindInput('x', new Tensor('float32', data, [512, 512]));
      binding.bindOutput('y', { device: 'cpu' });
      await session.runWithBinding(binding);
      // A BYOB read detaches the view's buffer even when it is marked untransferable.
      const stream = new ReadableStream({ type: 'bytes', pull(c) { c.byobRequest.view[0] = 1; c.byobRequest.respond(1); } });
      await stream.getReader({ mode: 'byob' }).read(new Uint8Array(data.buffer));
      for (let i = 0; i < 3; i++) gc();
      const message = await session.runWithBinding(binding).then(() => 'RAN', (e) => e.message);
      console.log(message);
      let sync; try { binding.runSync(); } catch (e) { sync = e.message; }
      console.log(sync, 'DONE');`);
    expectClean(run);
    expect(run.out).toContain("bound input 'x' was bound over memory that has since been detached, transferred or resized: bind it again");
    expect(run.out).not.toContain('RAN');
  });

  test('outputs ONNX Runtime allocates are the caller’s once handed out: the next run does not overwrite them', async () => {
    const session = await InferenceSession.create(matmul(64, 'm'));
    const binding = session.createIoBinding();
    const w = new Tensor('float32', new Float32Array(64 * 128).fill(1), [64, 128]);
    binding.bindInput('w', w);
    binding.bindOutput('y', { device: 'cpu' });
    binding.bindInput('x', new Tensor('float32', new Float32Array(64 * 64).fill(1), [64, 64]));
    await session.runWithBinding(binding);
    const first = binding.getOutputs().y; // 64x128 float32 = 32 KiB: handed out without a copy
    expect(first.data[0]).toBe(64);
    binding.bindInput('x', new Tensor('float32', new Float32Array(64 * 64).fill(2), [64, 64]));
    await session.runWithBinding(binding);
    expect(first.data[0]).toBe(64);
    expect((first.data as Float32Array).every((v) => v === 64)).toBe(true);
    expect(binding.getOutputs().y.data[0]).toBe(128);
    // Another batch size with the same binding: a fresh output of the new shape.
    binding.bindInput('x', new Tensor('float32', new Float32Array(3 * 64).fill(1), [3, 64]));
    await session.runWithBinding(binding);
    expect(binding.getOutputs().y.dims).toEqual([3, 128]);
    binding.release();
    await session.release();
  });

  test('getOutputs() before any run says so', async () => {
    const session = await InferenceSession.create(identity('float32', [2]));
    const binding = session.createIoBinding();
    binding.bindOutput('y', { device: 'cpu' });
    expect(() => binding.getOutputs()).toThrow("output 'y' has no value yet: call runWithBinding() first");
    binding.release();
    await session.release();
  });

  test('a bound bool input holding bytes other than 0 and 1 is refused at run time', async () => {
    const session = await InferenceSession.create(unaryModel('Not', 'bool', [4]));
    const binding = session.createIoBinding();
    const data = new Uint8Array([0, 1, 0, 1]);
    binding.bindInput('x', new Tensor('bool', data, [4]));
    binding.bindOutput('y', { device: 'cpu' });
    await session.runWithBinding(binding);
    expect(Array.from(binding.getOutputs().y.data as Uint8Array)).toEqual([1, 0, 1, 0]);
    data[2] = 7;
    await expect(session.runWithBinding(binding)).rejects.toThrow("bound input 'x' is bool, but its byte 2 is 7: bound bool tensors must hold 0 or 1");
    binding.release();
    await session.release();
  });
});

describe('values ONNX Runtime would misread', () => {
  test('bool inputs are read as JS reads them: any non-zero byte is true', async () => {
    const session = await InferenceSession.create(unaryModel('Not', 'bool', [4]));
    const data = new Uint8Array([0, 1, 2, 255]);
    const { y } = await session.run({ x: new Tensor('bool', data, [4]) });
    expect(Array.from(y.data as Uint8Array)).toEqual([1, 0, 0, 0]);
    expect(Array.from(session.runSync({ x: new Tensor('bool', data, [4]) }).y.data as Uint8Array)).toEqual([1, 0, 0, 0]);
    expect(Array.from(data)).toEqual([0, 1, 2, 255]); // the caller's bytes are not changed
    await session.release();
  });

  test('strings keep NUL characters, in and out', async () => {
    const session = await InferenceSession.create(identity('string', [3]));
    const strings = ['a\0b', '\0', 'tail\0'];
    const { y } = await session.run({ x: new Tensor('string', strings, [3]) });
    expect(y.data).toEqual(strings);
    await session.release();
  });

  test('a preallocated string output is written into the caller’s tensor', async () => {
    const session = await InferenceSession.create(identity('string', [2]));
    const out = new Tensor('string', ['', ''], [2]);
    const result = await session.run({ x: new Tensor('string', ['left', 'ri\0ght'], [2]) }, { y: out });
    expect(result.y).toBe(out);
    expect(out.data).toEqual(['left', 'ri\0ght']);
    session.runSync({ x: new Tensor('string', ['a', 'b'], [2]) }, { y: out });
    expect(out.data).toEqual(['a', 'b']);
    await session.release();
  });

  test('an odd count of 4-bit outputs hands out a zero spare half-byte, whatever the allocator left there', () => {
    // Cast int8 -> int4 of three values: the output's last byte has one unwritten nibble. Without the
    // arena, ONNX Runtime's memory comes straight from malloc, which MALLOC_PERTURB_ fills.
    const model = join(dir, 'cast-int4.onnx');
    writeFileSync(model, buildModel({
      opset: 21,
      inputs: [{ name: 'x', type: 'int8', dims: [3] }],
      outputs: [{ name: 'y', type: 'int4', dims: [3] }],
      nodes: [{ op: 'Cast', inputs: ['x'], outputs: ['y'], attributes: { to: { i: 22 } } }],
    }));
    const run = child(`
      const session = await InferenceSession.create(${JSON.stringify(model)}, { enableCpuMemArena: false });
      const bytes = [];
      for (let i = 0; i < 20; i++) {
        const { y } = await session.run({ x: new Tensor('int8', new Int8Array([1, -2, 3]), [3]) });
        bytes.push(y.data[0], y.data[1]);
        const s = session.runSync({ x: new Tensor('int8', new Int8Array([1, -2, 3]), [3]) }).y;
        bytes.push(s.data[0], s.data[1]);
      }
      console.log(JSON.stringify([...new Set(bytes)]), 'DONE');`, { MALLOC_PERTURB_: '165' });
    expectClean(run);
    // 1 and -2 (0xE) share the first byte; 3 sits alone in the low nibble of the second.
    expect(run.out).toContain('[225,3]');
  });
});

describe('the native boundary', () => {
  test('a dims array of absurd length is refused before anything is allocated for it', async () => {
    const { native, loadOrt } = require('../dist/binding.js') as typeof import('../lib/binding.js');
    loadOrt();
    const session = await native.createSession(buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: undefined }],
      outputs: [{ name: 'y', type: 'float32', dims: undefined }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    }), {} as never);
    // In a run descriptor (a rank, then that many dims), and in a dims array (an I/O binding's).
    expect(() => runSyncDescribed(session, [1, 1, 0, 1, 2 ** 31, 0, -1], [new Float32Array(1)])).toThrow('2147483648 dims is more than the 1024 ort-napi accepts');
    const dims: number[] = [];
    dims.length = 2 ** 31;
    const binding = session.createIoBinding();
    expect(() => binding.bindInput(0, 1, new Float32Array(1), dims)).toThrow('2147483648 dims is more than the 1024 ort-napi accepts');
    binding.release();
    session.release();
  });

  test('the addon exports only Node-API’s entry points', () => {
    const binary = join(root, 'prebuilds', `linux-${process.arch}`, 'ort-napi.node');
    const nm = spawnSync('nm', ['-D', '--defined-only', binary], { encoding: 'utf8' });
    if (nm.error) {
      console.log(`skipping the exported-symbol check: nm is not available (${nm.error.message})`);
      return;
    }
    expect(existsSync(binary)).toBe(true);
    const names = nm.stdout.trim().split('\n').map((line) => line.split(' ').pop()).sort();
    expect(names).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  });

  test('each prebuilt binary needs no glibc newer than 2.34 (Ubuntu 22.04, RHEL 9, Amazon Linux 2023)', () => {
    for (const arch of ['x64', 'arm64']) {
      const binary = join(root, 'prebuilds', `linux-${arch}`, 'ort-napi.node');
      if (!existsSync(binary)) continue;
      const readelf = spawnSync('readelf', ['--dyn-syms', '-W', binary], { encoding: 'utf8' });
      if (readelf.error) {
        console.log(`skipping the glibc-version check: readelf is not available (${readelf.error.message})`);
        return;
      }
      const versions = [...readelf.stdout.matchAll(/GLIBC_2\.(\d+)/g)].map((m) => Number(m[1]));
      expect(versions.length, arch).toBeGreaterThan(0);
      expect(Math.max(...versions), `linux-${arch} needs GLIBC_2.${Math.max(...versions)}`).toBeLessThanOrEqual(34);
    }
  });
});
