// 25.session.options: each session option observably takes effect.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildModel } from './support/onnx.js';
import { addMul, identity } from './support/models.js';
import { InferenceSession, Tensor } from './support/ort.js';

const dir = mkdtempSync(join(tmpdir(), 'ort-napi-options-'));

/** y = x + w, with w a [3] initializer of ones (optionally stored in an external file). */
function plusW(external?: string) {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['n', 3] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['n', 3] }],
    initializers: [{ name: 'w', type: 'float32', dims: [3], data: new Float32Array([1, 2, 3]), external: external ? { location: external, offset: 16 } : undefined }],
    nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
  });
}
const weightsFile = () => {
  const bytes = new Uint8Array(16 + 12);
  bytes.set(new Uint8Array(new Float32Array([1, 2, 3]).buffer), 16);
  return bytes;
};
const x = () => new Tensor('float32', new Float32Array([10, 20, 30]), [1, 3]);

describe('session options', () => {
  test('freeDimensionOverrides fix a symbolic dim, by name and by denotation', async () => {
    const byName = await InferenceSession.create(addMul(), { freeDimensionOverrides: { n: 2 } });
    expect(byName.inputMetadata[0]).toMatchObject({ shape: [2, 3] });
    await expect(byName.run({ a: new Tensor('float32', new Float32Array(3), [1, 3]), b: new Tensor('float32', new Float32Array(3), [1, 3]) })).rejects.toThrow(
      "input 'a' has dims[0] = 1, but the model fixes it at 2",
    );
    const denoted = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [{ param: 'n', denotation: 'DATA_BATCH' }, 3] }],
      outputs: [{ name: 'y', type: 'float32', dims: [{ param: 'n', denotation: 'DATA_BATCH' }, 3] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    const byDenotation = await InferenceSession.create(denoted, { freeDimensionOverridesByDenotation: { DATA_BATCH: 4 } });
    expect(byDenotation.inputMetadata[0]).toMatchObject({ shape: [4, 3] });
    const untouched = await InferenceSession.create(addMul(), { freeDimensionOverridesByDenotation: { DATA_BATCH: 4 } });
    expect(untouched.inputMetadata[0]).toMatchObject({ shape: ['n', 3] });
  });

  test('optimizedModelFilePath writes a model that loads and runs', async () => {
    const path = join(dir, 'optimized.onnx');
    await InferenceSession.create(plusW(), { optimizedModelFilePath: path });
    const reloaded = await InferenceSession.create(path);
    expect(Array.from((await reloaded.run({ x: x() })).y.data as Float32Array)).toEqual([11, 22, 33]);
  });

  test('a session config entry reaches ONNX Runtime: the ORT format, when asked for', async () => {
    const path = join(dir, 'optimized.ort');
    await InferenceSession.create(plusW(), { optimizedModelFilePath: path, sessionConfigEntries: { 'session.save_model_format': 'ORT' } });
    expect(readFileSync(path).subarray(4, 8).toString('latin1')).toBe('ORTM'); // the flatbuffer's file identifier
    const reloaded = await InferenceSession.create(path);
    expect(Array.from((await reloaded.run({ x: x() })).y.data as Float32Array)).toEqual([11, 22, 33]);
    // onnxruntime-common's nested `extra` form reaches it the same way.
    const viaExtra = join(dir, 'extra.ort');
    await InferenceSession.create(plusW(), { optimizedModelFilePath: viaExtra, extra: { session: { save_model_format: 'ORT' } } });
    expect(readFileSync(viaExtra).subarray(4, 8).toString('latin1')).toBe('ORTM');
  });

  test('profiling writes JSON with node events, and endProfiling returns its path', async () => {
    const session = await InferenceSession.create(addMul(), { enableProfiling: true, profileFilePrefix: join(dir, 'profile') });
    await session.run({ a: new Tensor('float32', new Float32Array(3), [1, 3]), b: new Tensor('float32', new Float32Array(3), [1, 3]) });
    const path = session.endProfiling();
    expect(path.startsWith(join(dir, 'profile'))).toBe(true);
    const events = JSON.parse(readFileSync(path, 'utf8')) as { cat: string; name: string }[];
    expect(events.some((e) => e.cat === 'Node' && e.name.includes('Add'))).toBe(true);
    expect(events.some((e) => e.cat === 'Session' && e.name === 'model_run')).toBe(true);
  });

  test('initializers from Tensors replace the model’s own', async () => {
    const session = await InferenceSession.create(plusW(), { initializers: { w: new Tensor('float32', new Float32Array([100, 200, 300]), [3]) } });
    expect(Array.from((await session.run({ x: x() })).y.data as Float32Array)).toEqual([110, 220, 330]);
    const plain = await InferenceSession.create(plusW());
    expect(Array.from((await plain.run({ x: x() })).y.data as Float32Array)).toEqual([11, 22, 33]);
  });

  test('external data loads from a file beside the model, and from memory', async () => {
    writeFileSync(join(dir, 'weights.bin'), weightsFile());
    writeFileSync(join(dir, 'external.onnx'), plusW('weights.bin'));
    const fromFile = await InferenceSession.create(join(dir, 'external.onnx'));
    expect(Array.from((await fromFile.run({ x: x() })).y.data as Float32Array)).toEqual([11, 22, 33]);
    const fromMemory = await InferenceSession.create(plusW('weights.bin'), { externalData: { 'weights.bin': weightsFile() } });
    expect(Array.from((await fromMemory.run({ x: x() })).y.data as Float32Array)).toEqual([11, 22, 33]);
    const commonForm = await InferenceSession.create(plusW('weights.bin'), { externalData: [{ path: 'weights.bin', data: weightsFile().buffer }] });
    expect(Array.from((await commonForm.run({ x: x() })).y.data as Float32Array)).toEqual([11, 22, 33]);
    const missing = await InferenceSession.create(plusW('nowhere.bin')).catch((e) => e);
    expect(missing.message).toMatch(/nowhere\.bin/);
  });

  test('arena and memory-pattern switches are accepted and runs stay correct', async () => {
    const session = await InferenceSession.create(plusW(), { enableCpuMemArena: false, enableMemPattern: false, logVerbosityLevel: 1 });
    expect(Array.from((await session.run({ x: x() })).y.data as Float32Array)).toEqual([11, 22, 33]);
  });

  test.each([
    [{ freeDimensionOverrides: { n: -1 } }, TypeError, 'session options.freeDimensionOverrides.n must be a non-negative integer; received number -1'],
    [{ sessionConfigEntries: { k: 1 } }, TypeError, "session options.sessionConfigEntries['k'] must be a string; received number 1"],
    [{ initializers: { w: new Float32Array(3) } }, TypeError, "session options.initializers['w'] must be a Tensor"],
    [{ externalData: { 'w.bin': 'nope' } }, TypeError, "session options.externalData['w.bin'] must be a Uint8Array or an ArrayBuffer"],
    [{ enableProfiling: 'yes' }, TypeError, 'session options.enableProfiling must be a boolean'],
  ])('bad options are named %#', async (options, kind, message) => {
    const error = await InferenceSession.create(identity('float32'), options as never).catch((e) => e);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain(message);
  });

  test('a profile is not written unless asked for', async () => {
    const before = existsSync(join(dir, 'unasked'));
    const session = await InferenceSession.create(addMul(), { profileFilePrefix: join(dir, 'unasked') });
    expect(before).toBe(false);
    expect(existsSync(join(dir, 'unasked'))).toBe(false);
    await session.release();
  });
});
