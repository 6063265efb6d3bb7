// 30.session.run: values in and out are exact, results match arithmetic done in JS, every run form works.
import { describe, expect, test } from 'vitest';
import { buildModel, type ElemType } from './support/onnx.js';
import { addMul, identity, matmul, random } from './support/models.js';
import { InferenceSession, Tensor, type Ort } from './support/ort.js';

type Case = [ElemType, unknown];
const cases: Case[] = [
  ['float32', new Float32Array([1.5, -2.25, 3.4028234663852886e38, Number.NaN, -0, Infinity])],
  ['float64', new Float64Array([Math.PI, -1e308, 5e-324, Number.NaN, -0, -Infinity])],
  ['int8', new Int8Array([-128, -1, 0, 1, 127, 42])],
  ['uint8', new Uint8Array([0, 1, 127, 128, 254, 255])],
  ['int16', new Int16Array([-32768, -1, 0, 1, 32767, 1000])],
  ['uint16', new Uint16Array([0, 1, 32768, 65535, 2, 3])],
  ['int32', new Int32Array([-2147483648, -1, 0, 1, 2147483647, 7])],
  ['uint32', new Uint32Array([0, 1, 2147483648, 4294967295, 5, 6])],
  ['int64', new BigInt64Array([-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n, 2n ** 53n + 1n])],
  ['uint64', new BigUint64Array([0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n, 9n])],
  ['bool', new Uint8Array([1, 0, 1, 1, 0, 0])],
  ['float16', new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7e00, 0x8000])],
  ['bfloat16', new Uint16Array([0x3f80, 0xc000, 0x7f7f, 0x0001, 0x7fc0, 0x8000])],
  ['string', ['', 'ascii', 'ÿ—✓ 漢字', '🙂 emoji', 'tab\tand\nnewline', 'x'.repeat(1000)]],
];

describe('run', () => {
  test.each(cases)('%s round-trips through Identity with exact values and dims', async (type, data) => {
    const session = await InferenceSession.create(identity(type, ['a', 'b']));
    const input = new Tensor(type as Ort.TensorType, data as never, [2, 3]);
    const { y } = await session.run({ x: input });
    expect(y.type).toBe(type);
    expect(y.dims).toEqual([2, 3]);
    expect(y.data.constructor).toBe((data as object).constructor);
    if (type === 'float32' || type === 'float64') {
      // Object.is keeps -0 and NaN apart from 0
      Array.from(y.data as Float32Array).forEach((v, i) => expect(Object.is(v, (data as Float32Array)[i])).toBe(true));
    } else {
      expect(y.data).toEqual(data);
    }
    expect(y.data).not.toBe(data);
    const sync = session.runSync({ x: input });
    expect(sync.y.data).toEqual(y.data);
    await session.release();
  });

  test.each(['float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz'] as const)('%s round-trips as bit patterns', async (type) => {
    const model = buildModel({
      inputs: [{ name: 'x', type, dims: ['n'] }],
      outputs: [{ name: 'y', type, dims: ['n'] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      opset: 21,
    });
    const session = await InferenceSession.create(model);
    const bits = new Uint8Array([0x00, 0x38, 0x7e, 0x80, 0xff, 0x01]);
    const { y } = await session.run({ x: new Tensor(type, bits, [6]) });
    expect(y.type).toBe(type);
    expect(y.data).toEqual(bits);
  });

  test.each([
    ['int4', [1, -2, 3, -8, 7], [0xe1, 0x83, 0x07]],
    ['uint4', [1, 2, 3, 4, 15], [0x21, 0x43, 0x0f]],
  ] as const)('%s goes in and comes out packed two per byte, dims counting elements', async (type, values, packed) => {
    // ONNX Runtime's CPU kernels take 4-bit tensors in DequantizeLinear and give them out of QuantizeLinear.
    const model = buildModel({
      inputs: [{ name: 'x', type, dims: ['n', 'm'] }],
      outputs: [
        { name: 'f', type: 'float32', dims: ['n', 'm'] },
        { name: 'y', type, dims: ['n', 'm'] },
      ],
      initializers: [
        { name: 'scale', type: 'float32', dims: [], data: new Float32Array([1]) },
        { name: 'zero', type, dims: [], data: new Uint8Array([0]) },
      ],
      nodes: [
        { op: 'DequantizeLinear', inputs: ['x', 'scale', 'zero'], outputs: ['f'] },
        { op: 'QuantizeLinear', inputs: ['f', 'scale', 'zero'], outputs: ['y'] },
      ],
      opset: 21,
    });
    // Disabled optimisation: it would fold the Dequantize/Quantize pair into an Identity, which has no 4-bit kernel.
    const session = await InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
    const { f, y } = await session.run({ x: new Tensor(type, new Uint8Array(packed), [1, 5]) });
    expect(Array.from(f.data as Float32Array)).toEqual(values);
    expect(y.dims).toEqual([1, 5]);
    expect(y.size).toBe(5);
    expect(Array.from(y.data as Uint8Array)).toEqual(packed);
    expect(() => new Tensor(type, new Uint8Array(2), [1, 5])).toThrow('Tensor data has 2 elements but dims [1,5] need 3 bytes (5 4-bit values, two per byte)');
  });

  test('scalars and zero-sized tensors', async () => {
    const scalar = await InferenceSession.create(identity('float32', []));
    const s = await scalar.run({ x: new Tensor('float32', new Float32Array([2.5]), []) });
    expect(s.y.dims).toEqual([]);
    expect(Array.from(s.y.data as Float32Array)).toEqual([2.5]);
    const empty = await InferenceSession.create(identity('float32', ['n', 4]));
    const e = await empty.run({ x: new Tensor('float32', new Float32Array(0), [0, 4]) });
    expect(e.y.dims).toEqual([0, 4]);
    expect(e.y.size).toBe(0);
    expect(e.y.data).toHaveLength(0);
    const strings = await InferenceSession.create(identity('string', ['n']));
    const z = await strings.run({ x: new Tensor('string', [], [0]) });
    expect(z.y.data).toEqual([]);
  });

  // collect() builds dims as literals up to rank 4 and from the header beyond: each rank's dims and
  // values come back as they went in, from runSync and from run().
  test('outputs of every rank from 0 to 7 keep their dims and values', async () => {
    for (let rank = 0; rank <= 7; rank++) {
      const dims = Array.from({ length: rank }, (_, d) => (d % 3) + 1); // 1, 2, 3, 1, 2, ...
      const session = await InferenceSession.create(identity('float32', dims.map((_, d) => `d${d}`)));
      const size = dims.reduce((a, b) => a * b, 1);
      const x = new Tensor('float32', Float32Array.from({ length: size }, (_, i) => i + 0.5), dims);
      for (const { y } of [session.runSync({ x }), await session.run({ x })]) {
        expect(y.dims, `rank ${rank}`).toEqual(dims);
        expect(Array.isArray(y.dims)).toBe(true);
        expect(y.size).toBe(size);
        expect(Array.from(y.data as Float32Array)).toEqual(Array.from(x.data as Float32Array));
      }
      await session.release();
    }
  });

  test('Add and Mul equal the sums and products computed in JS', async () => {
    const session = await InferenceSession.create(addMul());
    const a = random(300, 1);
    const b = random(300, 2);
    const out = await session.run({ a: new Tensor('float32', a, [100, 3]), b: new Tensor('float32', b, [100, 3]) });
    expect(out.sum.dims).toEqual([100, 3]);
    // float32 arithmetic, exactly as ONNX Runtime does it
    expect(out.sum.data).toEqual(a.map((v, i) => Math.fround(v + b[i])));
    expect(out.product.data).toEqual(a.map((v, i) => Math.fround(v * b[i])));
  });

  test('MatMul equals the product computed in JS', async () => {
    const session = await InferenceSession.create(matmul());
    const [n, k, m] = [7, 33, 5];
    const x = random(n * k, 3);
    const w = random(k * m, 4);
    const { y } = await session.run({ x: new Tensor('float32', x, [n, k]), w: new Tensor('float32', w, [k, m]) });
    expect(y.dims).toEqual([n, m]);
    const got = y.data as Float32Array;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += x[i * k + p] * w[p * m + j];
        expect(got[i * m + j]).toBeCloseTo(sum, 4);
      }
    }
  });

  test('inputs are read in place from a TypedArray with a byteOffset', async () => {
    const session = await InferenceSession.create(identity('float64', ['n']));
    const backing = new Float64Array([9, 9, 1, 2, 3, 9]);
    const view = backing.subarray(2, 5);
    const { y } = await session.run({ x: new Tensor('float64', view, [3]) });
    expect(Array.from(y.data as Float64Array)).toEqual([1, 2, 3]);
  });

  test('fetches as a list of names returns only those outputs', async () => {
    const session = await InferenceSession.create(addMul());
    const feeds = { a: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]), b: new Tensor('float32', new Float32Array([4, 5, 6]), [1, 3]) };
    const only = await session.run(feeds, ['product']);
    expect(Object.keys(only)).toEqual(['product']);
    expect(Array.from(only.product.data as Float32Array)).toEqual([4, 10, 18]);
    const withOptions = await session.run(feeds, ['sum'], { tag: 'fetch-sum', logSeverityLevel: 3 });
    expect(Array.from(withOptions.sum.data as Float32Array)).toEqual([5, 7, 9]);
    const optionsOnly = await session.run(feeds, { tag: 'all-outputs' });
    expect(Object.keys(optionsOnly).sort()).toEqual(['product', 'sum']);
  });

  test('a preallocated output is written in place', async () => {
    const session = await InferenceSession.create(addMul());
    const feeds = { a: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]), b: new Tensor('float32', new Float32Array([4, 5, 6]), [1, 3]) };
    const target = new Tensor('float32', new Float32Array(3), [1, 3]);
    const out = await session.run(feeds, { sum: target, product: null });
    expect(out.sum).toBe(target);
    expect(Array.from(target.data as Float32Array)).toEqual([5, 7, 9]);
    expect(Array.from(out.product!.data as Float32Array)).toEqual([4, 10, 18]);
    const syncTarget = new Tensor('float32', new Float32Array(3), [1, 3]);
    session.runSync(feeds, { product: syncTarget });
    expect(Array.from(syncTarget.data as Float32Array)).toEqual([4, 10, 18]);
  });

  test('outputs are on memory no other output or input shares, each on an ArrayBuffer of its own', async () => {
    const session = await InferenceSession.create(
      buildModel({
        inputs: [{ name: 'x', type: 'float32', dims: [4] }],
        outputs: [
          { name: 'y', type: 'float32', dims: [4] },
          { name: 'z', type: 'float32', dims: [4] },
        ],
        nodes: [
          { op: 'Identity', inputs: ['x'], outputs: ['y'] },
          { op: 'Identity', inputs: ['x'], outputs: ['z'] },
        ],
      }),
    );
    const x = new Float32Array([1, 2, 3, 4]);
    const out = await session.run({ x: new Tensor(x) });
    (out.y.data as Float32Array)[0] = 100;
    expect((out.z.data as Float32Array)[0]).toBe(1);
    expect(x[0]).toBe(1);
    // Each on an ArrayBuffer of its own, all of it (the addon hands a run's outputs back in one
    // block, which lib/ copies out of): callers pass `tensor.data.buffer` on whole, and
    // transferring one output's buffer leaves the others alone. Inline and runner runs alike.
    for (const result of [session.runSync({ x: new Tensor(x) }), await session.run({ x: new Tensor(x) }), out]) {
      const y = result.y.data as Float32Array;
      const z = result.z.data as Float32Array;
      expect(y.buffer).not.toBe(z.buffer);
      expect([y.byteOffset, y.buffer.byteLength, z.byteOffset, z.buffer.byteLength]).toEqual([0, 16, 0, 16]);
    }
    const later = session.runSync({ x: new Tensor(x) });
    const transferred = (later.y.data as Float32Array).buffer as ArrayBuffer;
    structuredClone(transferred, { transfer: [transferred] });
    expect(Array.from(later.z.data as Float32Array)).toEqual([1, 2, 3, 4]);
    // A sync run's block is reused: the outputs of an earlier run keep their values.
    const first = session.runSync({ x: new Tensor(new Float32Array([5, 6, 7, 8])) });
    session.runSync({ x: new Tensor(new Float32Array([9, 9, 9, 9])) });
    expect(Array.from(first.y.data as Float32Array)).toEqual([5, 6, 7, 8]);
  });

  test('onnxruntime-common style tensors from another library are accepted', async () => {
    const session = await InferenceSession.create(identity('int32', ['n']));
    const foreign = { type: 'int32', data: new Int32Array([5, 6]), dims: [2], size: 2 };
    const { y } = await session.run({ x: foreign as never });
    expect(Array.from(y.data as Int32Array)).toEqual([5, 6]);
  });
});
