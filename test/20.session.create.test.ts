// 20.session.create: loading models from paths and bytes, their metadata, and load failures.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

describe('a model that is not one says what it is', () => {
  const reject = async (model: string | Uint8Array) => {
    const loading = typeof model === 'string' ? InferenceSession.create(model) : InferenceSession.create(model);
    const error: unknown = await loading.then(() => 'loaded', (e: unknown) => e);
    expect(error).toBeInstanceOf(OrtError);
    return error as InstanceType<typeof OrtError> & { cause?: { code?: string } };
  };
  const write = (name: string, data: string | Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, data);
    return path;
  };

  test('a missing file: NO_SUCHFILE, naming the path, with the ENOENT as its cause', async () => {
    const path = join(dir, 'absent.onnx');
    const error = await reject(path);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe('NO_SUCHFILE');
    expect(error.message).toBe(`model file '${path}' does not exist`);
    expect(error.cause?.code).toBe('ENOENT');
    expect(error.stack).toContain('20.session.create.test.ts');
  });

  test('a relative path that names no file says where it looked', async () => {
    const error = await reject('no/such/model.onnx');
    expect(error.code).toBe('NO_SUCHFILE');
    expect(error.message).toBe(`model file 'no/such/model.onnx' does not exist (looked for '${resolve('no/such/model.onnx')}')`);
  });

  test('a path through a file: NO_SUCHFILE', async () => {
    const path = join(write('plain.txt', 'x'), 'model.onnx');
    const error = await reject(path);
    expect(error.code).toBe('NO_SUCHFILE');
    expect(error.message).toBe(`model file '${path}' does not exist: part of its directory path is a file`);
    expect(error.cause?.code).toBe('ENOTDIR');
  });

  test('a directory: INVALID_ARGUMENT, as ONNX Runtime says', async () => {
    const path = join(dir, 'a-directory.onnx');
    mkdirSync(path);
    const error = await reject(path);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(`model path '${path}' is a directory, not a model file`);
  });

  test('an empty file: FAIL, as ONNX Runtime says', async () => {
    const path = write('empty.onnx', '');
    const error = await reject(path);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe('FAIL');
    expect(error.message).toBe(`model file '${path}' is empty (0 bytes)`);
  });

  test('a file this process may not read: FAIL, permission denied', (ctx) => {
    const open = mkdtempSync(join(tmpdir(), 'ort-napi-locked-'));
    chmodSync(open, 0o755);
    const path = join(open, 'locked.onnx');
    writeFileSync(path, readFileSync(join(__dirname, 'fixtures', 'linear.onnx')));
    chmodSync(path, 0o000);
    // root reads anything: as root, try it as nobody (uid 65534) in a child process.
    const asRoot = process.getuid?.() === 0;
    const dist = join(__dirname, '..', 'dist', 'index.js');
    const as = asRoot ? { uid: 65534, gid: 65534 } : {};
    if (asRoot) {
      const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(dist)})`], { encoding: 'utf8', ...as });
      const why = probe.error
        ? `this process cannot switch to uid 65534 (${(probe.error as NodeJS.ErrnoException).code})`
        : probe.status !== 0
          ? 'uid 65534 cannot read this checkout'
          : undefined;
      if (why) {
        console.log(`skipping the permission-denied case: ${why}`);
        ctx.skip();
        return;
      }
    }
    const child = spawnSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(dist)}).InferenceSession.create(${JSON.stringify(path)}).then(
         () => console.log('loaded'), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, cause: e.cause?.code })))`],
      { encoding: 'utf8', ...as },
    );
    expect(JSON.parse(child.stdout)).toEqual({
      name: 'OrtError',
      code: 'FAIL',
      message: `model file '${path}' cannot be read: permission denied`,
      cause: 'EACCES',
    });
  });

  test('JSON in a file: the bytes, and that they are JSON', async () => {
    const path = write('config.onnx', '{"a":1}\n');
    const error = await reject(path);
    expect(error.code).toBe('INVALID_PROTOBUF');
    expect(error.message).toBe(
      `Load model from ${path} failed:Protobuf parsing failed. The model's 8 bytes are 7b 22 61 22 3a 31 7d 0a: JSON text, not an ONNX model.`,
    );
  });

  test('a Git LFS pointer in a file: fetch the model', async () => {
    const path = write('lfs.onnx', 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1234\n');
    const error = await reject(path);
    expect(error.code).toBe('INVALID_PROTOBUF');
    expect(error.message).toBe(
      `Load model from ${path} failed:Protobuf parsing failed. The first 16 of the model's 69 bytes are ` +
        '76 65 72 73 69 6f 6e 20 68 74 74 70 73 3a 2f 2f: a Git LFS pointer, not the model itself; fetch the model with `git lfs pull`.',
    );
  });

  test('a truncated model file: it starts as an ONNX model does', async () => {
    const path = write('truncated.onnx', readFileSync(join(__dirname, 'fixtures', 'linear.onnx')).subarray(0, 100));
    const error = await reject(path);
    expect(error.code).toBe('INVALID_PROTOBUF');
    expect(error.message).toBe(
      `Load model from ${path} failed:Protobuf parsing failed. The first 16 of the model's 100 bytes are ` +
        '08 08 12 08 6f 72 74 2d 6e 61 70 69 3a aa 01 0a: the start of an ONNX model (ir_version 8), but not a whole one; is it truncated or damaged?',
    );
  });

  test.each([
    [
      'a zip (a PyTorch .pt)',
      new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0]),
      'INVALID_PROTOBUF',
      'Failed to load model because protobuf parsing failed. The model\'s 10 bytes are 50 4b 03 04 14 00 00 00 08 00: ' +
        'a zip archive, not an ONNX model (a PyTorch .pt or .pth, a NumPy .npz and a Keras .keras file are zips).',
    ],
    [
      'an HTML page',
      new TextEncoder().encode('<!DOCTYPE html><html><body>Not Found</body></html>'),
      'INVALID_PROTOBUF',
      "Failed to load model because protobuf parsing failed. The first 16 of the model's 50 bytes are 3c 21 44 4f 43 54 59 50 45 20 68 74 6d 6c 3e 3c: " +
        'an HTML page (a download that saved an error or login page?), not an ONNX model.',
    ],
    [
      'gzip',
      new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]),
      'INVALID_PROTOBUF',
      "Failed to load model because protobuf parsing failed. The model's 10 bytes are 1f 8b 08 00 00 00 00 00 00 03: gzip-compressed data; decompress it first.",
    ],
    [
      'a protobuf with no graph',
      new Uint8Array([0x08, 0x07, 0x12, 0x04, 0x74, 0x65, 0x73, 0x74]),
      'INVALID_ARGUMENT',
      "No graph was found in the protobuf. The model's 8 bytes are 08 07 12 04 74 65 73 74: the start of an ONNX model (ir_version 7), but not a whole one; is it truncated or damaged?",
    ],
    [
      'bytes of no known kind',
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]),
      'INVALID_PROTOBUF',
      "Failed to load model because protobuf parsing failed. The model's 9 bytes are 01 02 03 04 05 06 07 08 09.",
    ],
  ])('%s as bytes: the bytes, and what they look like', async (_, bytes, code, message) => {
    const error = await reject(bytes);
    expect(error).toBeInstanceOf(OrtError);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
    expect(error.stack).toContain('20.session.create.test.ts');
  });

  test("a real model's graph error is left as ONNX Runtime wrote it", async () => {
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [2] }],
      outputs: [{ name: 'y', type: 'float32', dims: [2] }],
      nodes: [{ op: 'NoSuchOperator', inputs: ['x'], outputs: ['y'] }],
    });
    const error = await reject(model);
    expect(error.message).toContain('NoSuchOperator');
    expect(error.message).not.toContain('bytes are');
  });
});
