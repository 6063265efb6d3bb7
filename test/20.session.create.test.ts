// 20.session.create: loading models from paths and bytes, their metadata, and load failures.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildModel } from './support/onnx.js';
import { addMul, identity } from './support/models.js';
import { InferenceSession, OrtError, Tensor } from './support/ort.js';

const dir = mkdtempSync(join(tmpdir(), 'ort-napi-'));

describe('InferenceSession.create', () => {
  test('loads from a file path, a Uint8Array, an ArrayBuffer and a slice of one', async () => {
    const bytes = addMul();
    const path = join(dir, 'add.onnx');
    writeFileSync(path, bytes);
    const padded = new Uint8Array(bytes.length + 16);
    padded.set(bytes, 8);
    const sessions = await Promise.all([
      InferenceSession.create(path),
      InferenceSession.create(bytes),
      InferenceSession.create(bytes.slice().buffer),
      InferenceSession.create(padded.buffer, 8, bytes.length),
      InferenceSession.create(Buffer.from(bytes), { graphOptimizationLevel: 'disabled' }),
    ]);
    for (const s of sessions) {
      expect(s.inputNames).toEqual(['a', 'b']);
      expect(s.outputNames).toEqual(['sum', 'product']);
      await s.release();
    }
  });

  test('reports input and output metadata with symbolic dims as strings', async () => {
    const model = buildModel({
      inputs: [
        { name: 'tokens', type: 'int64', dims: ['batch', 'seq'] },
        { name: 'mask', type: 'bool', dims: ['batch', null] },
        { name: 'scale', type: 'float32', dims: [] },
      ],
      outputs: [{ name: 'out', type: 'int64', dims: ['batch', 'seq'] }],
      nodes: [{ op: 'Identity', inputs: ['tokens'], outputs: ['out'] }],
    });
    const s = await InferenceSession.create(model);
    expect(s.inputMetadata).toEqual([
      { name: 'tokens', isTensor: true, kind: 'tensor', type: 'int64', shape: ['batch', 'seq'] },
      { name: 'mask', isTensor: true, kind: 'tensor', type: 'bool', shape: ['batch', -1] },
      { name: 'scale', isTensor: true, kind: 'tensor', type: 'float32', shape: [] },
    ]);
    expect(s.outputMetadata).toEqual([{ name: 'out', isTensor: true, kind: 'tensor', type: 'int64', shape: ['batch', 'seq'] }]);
    await s.release();
  });

  test('an input the model gives no shape takes any rank', async () => {
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: undefined }],
      outputs: [{ name: 'y', type: 'float32', dims: undefined }],
      nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['y'] }],
    });
    const s = await InferenceSession.create(model);
    expect(s.inputMetadata[0]).toEqual({ name: 'x', isTensor: true, kind: 'tensor', type: 'float32', shape: [], unranked: true });
    const { y } = await s.run({ x: new Tensor('float32', new Float32Array([1, 2, 3, 4]), [2, 2]) });
    expect(y.dims).toEqual([2, 2]);
    expect(Array.from(y.data as Float32Array)).toEqual([-1, -2, -3, -4]);
  });

  test('reports model metadata, custom entries included', async () => {
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [2] }],
      outputs: [{ name: 'y', type: 'float32', dims: [2] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      producerName: 'ort-napi-tests',
      domain: 'ai.example',
      modelVersion: 42,
      docString: 'a model that copies',
      graphName: 'copy',
      graphDocString: 'the graph',
      metadata: { author: 'tests', 'label:0': 'cat', unicode: 'ÿ—✓' },
    });
    const s = await InferenceSession.create(model);
    expect(s.modelMetadata).toEqual({
      producerName: 'ort-napi-tests',
      graphName: 'copy',
      domain: 'ai.example',
      description: 'a model that copies',
      graphDescription: 'the graph',
      version: 42,
      customMetadataMap: { author: 'tests', 'label:0': 'cat', unicode: 'ÿ—✓' },
    });
    const plain = await InferenceSession.create(identity('float32'));
    expect(plain.modelMetadata.version).toBeUndefined();
    expect(plain.modelMetadata.customMetadataMap).toEqual({});
  });

  test('corrupt bytes reject with INVALID_PROTOBUF', async () => {
    const error = await InferenceSession.create(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])).catch((e) => e);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe('INVALID_PROTOBUF');
    expect(error.stack).toContain('20.session.create.test.ts');
  });

  test('a missing file rejects with NO_SUCHFILE naming it', async () => {
    const error = await InferenceSession.create(join(dir, 'missing.onnx')).catch((e) => e);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe('NO_SUCHFILE');
    expect(error.message).toContain('missing.onnx');
  });

  test('a graph ONNX Runtime cannot type rejects with its own code', async () => {
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [2] }],
      outputs: [{ name: 'y', type: 'float32', dims: [2] }],
      nodes: [{ op: 'NoSuchOperator', inputs: ['x'], outputs: ['y'] }],
    });
    const error = await InferenceSession.create(model).catch((e) => e);
    expect(error).toBeInstanceOf(OrtError);
    expect(['INVALID_GRAPH', 'FAIL', 'NOT_IMPLEMENTED']).toContain(error.code);
    expect(error.message).toContain('NoSuchOperator');
  });

  test.each([
    [42, TypeError, 'model must be a file path, a Uint8Array or an ArrayBuffer; received number 42'],
    ['', TypeError, 'model path must be a non-empty string'],
    [new Uint8Array(0), TypeError, 'model bytes must be non-empty'],
  ])('bad model argument %#', async (model, kind, message) => {
    const error = await InferenceSession.create(model as never).catch((e) => e);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain(message);
  });

  test('an ArrayBuffer slice out of range is refused', async () => {
    await expect(InferenceSession.create(new ArrayBuffer(8), 4, 8)).rejects.toThrow('byteLength must be an integer from 0 to 4; received number 8');
  });

  test.each([
    [{ intraOpNumThreads: -1 }, RangeError, 'session options.intraOpNumThreads must be an integer from 0 to 65536; received number -1'],
    [{ graphOptimizationLevel: 'max' }, TypeError, "session options.graphOptimizationLevel must be one of 'disabled', 'basic', 'extended', 'layout', 'all'"],
    [{ executionMode: 1 }, TypeError, "session options.executionMode must be one of 'sequential', 'parallel'; received number 1"],
    [{ logSeverityLevel: 7 }, RangeError, 'session options.logSeverityLevel must be an integer from 0 to 4'],
    [{ intraOpThreads: 2 }, TypeError, "session options has an unknown option 'intraOpThreads'"],
    [{ executionProviders: 'cpu' }, TypeError, 'session options.executionProviders must be an array; received the string "cpu"'],
  ])('bad session options are named %#', async (options, kind, message) => {
    const error = await InferenceSession.create(identity('float32'), options as never).catch((e) => e);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain(message);
  });

  test('every documented session option is accepted', async () => {
    const s = await InferenceSession.create(addMul(), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'parallel',
      logSeverityLevel: 3,
      logId: 'tests',
      executionProviders: ['cpu'],
    });
    expect(s.inputNames).toEqual(['a', 'b']);
    await s.release();
  });

  test('the constructor is not public', () => {
    expect(() => new (InferenceSession as never as new (...a: unknown[]) => unknown)()).toThrow('sessions are made by InferenceSession.create()');
  });
});
