// 32.values: sequences, maps and optionals, in and out, and the metadata that describes them.
import { describe, expect, test } from 'vitest';
import { buildModel } from './support/onnx.js';
import { optionalEcho } from './support/models.js';
import { InferenceSession, Tensor, type Ort } from './support/ort.js';

const f32 = (...v: number[]) => new Tensor('float32', new Float32Array(v), [v.length]);

describe('sequences', () => {
  const model = buildModel({
    inputs: [
      { name: 'x', type: 'float32', dims: ['n'] },
      { name: 'seq', type: 'float32', dims: ['k'], sequence: true },
    ],
    outputs: [
      { name: 'pair', type: 'float32', dims: ['n'], sequence: true },
      { name: 'count', type: 'int64', dims: [] },
      { name: 'first', type: 'float32', dims: ['k'] },
    ],
    initializers: [{ name: 'zero', type: 'int64', dims: [], data: new BigInt64Array([0n]) }],
    nodes: [
      { op: 'SequenceConstruct', inputs: ['x', 'x'], outputs: ['pair'] },
      { op: 'SequenceLength', inputs: ['seq'], outputs: ['count'] },
      { op: 'SequenceAt', inputs: ['seq', 'zero'], outputs: ['first'] },
    ],
  });

  test('metadata describes the element type', async () => {
    const session = await InferenceSession.create(model);
    expect(session.inputMetadata[1]).toEqual({ name: 'seq', isTensor: false, kind: 'sequence', element: { kind: 'tensor', type: 'float32', shape: ['k'] } });
  });

  test('a sequence goes in as an array of Tensors and comes out as one', async () => {
    const session = await InferenceSession.create(model);
    const out = await session.run({ x: f32(1, 2), seq: [f32(7, 8, 9), f32(4), f32(5, 6)] } as never);
    const pair = out.pair as unknown as Ort.Tensor[];
    expect(pair).toHaveLength(2);
    expect(pair.map((t) => Array.from(t.data as Float32Array))).toEqual([[1, 2], [1, 2]]);
    expect(out.count.data).toEqual(new BigInt64Array([3n]));
    expect(Array.from(out.first.data as Float32Array)).toEqual([7, 8, 9]);
  });

  test('bad sequences are named', async () => {
    const session = await InferenceSession.create(model);
    await expect(session.run({ x: f32(1), seq: f32(1) } as never)).rejects.toThrow("input 'seq' must be an array (an ONNX sequence); received an object (Tensor)");
    await expect(session.run({ x: f32(1), seq: [f32(1), new Tensor('int32', new Int32Array(1), [1])] } as never)).rejects.toThrow(
      "input 'seq'[1] has element type 'int32', but the model expects 'float32'",
    );
    await expect(session.run({ x: f32(1), seq: [] } as never)).rejects.toThrow("input 'seq' is an empty sequence, which cannot be fed from JS");
  });
});

describe('maps', () => {
  const zip = (labels: Ort.TensorType, attribute: Record<string, { ints: number[] } | { strings: string[] }>) =>
    buildModel({
      inputs: [{ name: 'scores', type: 'float32', dims: ['n', 3] }],
      outputs: [{ name: 'probabilities', type: 'float32', dims: [], map: labels as 'int64' | 'string', sequence: true }],
      nodes: [{ op: 'ZipMap', inputs: ['scores'], outputs: ['probabilities'], domain: 'ai.onnx.ml', attributes: attribute }],
      opsets: [{ domain: 'ai.onnx.ml', version: 1 }],
    });

  test('ZipMap outputs come back as arrays of Maps, with bigint or string keys', async () => {
    const scores = new Tensor('float32', new Float32Array([0.5, 0.25, 0.25, 0, 1, 0]), [2, 3]);
    const byId = await InferenceSession.create(zip('int64', { classlabels_int64s: { ints: [10, 20, 30] } }));
    expect(byId.outputMetadata[0]).toEqual({
      name: 'probabilities',
      isTensor: false,
      kind: 'sequence',
      element: { kind: 'map', key: 'int64', value: { kind: 'tensor', type: 'float32', shape: [], unranked: true } },
    });
    const rows = (await byId.run({ scores })).probabilities as unknown as Map<bigint, number>[];
    expect(rows).toEqual([
      new Map([[10n, 0.5], [20n, 0.25], [30n, 0.25]]),
      new Map([[10n, 0], [20n, 1], [30n, 0]]),
    ]);
    const byName = await InferenceSession.create(zip('string', { classlabels_strings: { strings: ['cat', 'dog', 'fish'] } }));
    const named = (await byName.run({ scores })).probabilities as unknown as Map<string, number>[];
    expect(named[1]).toEqual(new Map([['cat', 0], ['dog', 1], ['fish', 0]]));
  });

  test('a Map goes in as an ONNX map (DictVectorizer)', async () => {
    const model = buildModel({
      inputs: [{ name: 'features', type: 'float32', dims: [], map: 'string' }],
      outputs: [{ name: 'vector', type: 'float32', dims: [1, 3] }],
      nodes: [{ op: 'DictVectorizer', inputs: ['features'], outputs: ['vector'], domain: 'ai.onnx.ml', attributes: { string_vocabulary: { strings: ['a', 'b', 'c'] } } }],
      opsets: [{ domain: 'ai.onnx.ml', version: 1 }],
    });
    const session = await InferenceSession.create(model);
    expect(session.inputMetadata[0]).toMatchObject({ kind: 'map', key: 'string', value: { kind: 'tensor', type: 'float32' } });
    const { vector } = await session.run({ features: new Map([['c', 3], ['a', 1.5]]) } as never);
    expect(Array.from(vector.data as Float32Array)).toEqual([1.5, 0, 3]);
    await expect(session.run({ features: { c: 3 } } as never)).rejects.toThrow("input 'features' must be a Map (an ONNX map)");
  });

  test('a Map with int64 keys takes bigint or number keys', async () => {
    const model = buildModel({
      inputs: [{ name: 'features', type: 'float32', dims: [], map: 'int64' }],
      outputs: [{ name: 'vector', type: 'float32', dims: [1, 3] }],
      nodes: [{ op: 'DictVectorizer', inputs: ['features'], outputs: ['vector'], domain: 'ai.onnx.ml', attributes: { int64_vocabulary: { ints: [5, 6, 7] } } }],
      opsets: [{ domain: 'ai.onnx.ml', version: 1 }],
    });
    const session = await InferenceSession.create(model);
    expect(Array.from((await session.run({ features: new Map([[7n, 2], [5n, 1]]) } as never)).vector.data as Float32Array)).toEqual([1, 0, 2]);
    expect(Array.from((await session.run({ features: new Map([[6, 4]]) } as never)).vector.data as Float32Array)).toEqual([0, 4, 0]);
  });
});

describe('optionals', () => {
  const model = optionalEcho();

  test('an optional is its value or null, in and out', async () => {
    const session = await InferenceSession.create(model);
    expect(session.inputMetadata[0]).toEqual({ name: 'maybe', isTensor: false, kind: 'optional', element: { kind: 'tensor', type: 'float32', shape: ['n'] } });
    const given = await session.run({ maybe: f32(1, 2) } as never);
    expect(Array.from(given.has.data as Uint8Array)).toEqual([1]);
    expect(Array.from(given.echo.data as Float32Array)).toEqual([1, 2]);
    const absent = await session.run({ maybe: null } as never);
    expect(Array.from(absent.has.data as Uint8Array)).toEqual([0]);
    expect(absent.echo).toBeNull();
    expect(Array.from((await session.run({} as never)).has.data as Uint8Array)).toEqual([0]);
  });
});
