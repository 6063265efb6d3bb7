// fuzz-seeds.ts: the valid models scripts/fuzz.mjs mutates, committed as test/fixtures/fuzz/*.onnx.
// test/85.fuzz.test.ts checks the committed files are these bytes; ORT_NAPI_WRITE_FUZZ_SEEDS=1 on that
// test (npm run fuzz:seeds) rewrites them after a change here.
import { buildModel } from './onnx.js';

/** Fixed weights in [-1, 1), made here so that no other helper's change moves the committed bytes. */
function weights(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (((i + 1) * 37 + seed * 11) % 17) / 8.5 - 1);
}

/** Conv with group=2 (a group attribute for the mutations to reach), Relu, MaxPool. */
const conv = () =>
  buildModel({
    graphName: 'conv',
    inputs: [{ name: 'x', type: 'float32', dims: [1, 2, 6, 6] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1, 4, 3, 3] }],
    initializers: [
      { name: 'w', type: 'float32', dims: [4, 1, 3, 3], data: weights(36, 3) },
      { name: 'b', type: 'float32', dims: [4], data: new Float32Array([0.1, -0.1, 0.2, -0.2]) },
    ],
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attributes: { group: { i: 2 }, kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] }, strides: { ints: [1, 1] } } },
      { op: 'Relu', inputs: ['c'], outputs: ['r'] },
      { op: 'MaxPool', inputs: ['r'], outputs: ['y'], attributes: { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } } },
    ],
  });

/** MatMul, Add, Reshape through a constant shape, Transpose, Softmax over a symbolic batch. */
const mlp = () =>
  buildModel({
    graphName: 'mlp',
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 4] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 3, 2] }],
    initializers: [
      { name: 'w', type: 'float32', dims: [4, 6], data: weights(24, 5) },
      { name: 'b', type: 'float32', dims: [6], data: weights(6, 6) },
      { name: 'shape', type: 'int64', dims: [3], data: new BigInt64Array([-1n, 2n, 3n]) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'b'], outputs: ['h'] },
      { op: 'Reshape', inputs: ['h', 'shape'], outputs: ['r'] },
      { op: 'Transpose', inputs: ['r'], outputs: ['t'], attributes: { perm: { ints: [0, 2, 1] } } },
      { op: 'Softmax', inputs: ['t'], outputs: ['y'], attributes: { axis: { i: -1 } } },
    ],
  });

/** Concat of a fixed and a symbolic input, Gather by int64 indices given as an input, ReduceSum, Shape. */
const concatGather = () =>
  buildModel({
    graphName: 'concat_gather',
    inputs: [
      { name: 'a', type: 'float32', dims: [2, 3] },
      { name: 'b', type: 'float32', dims: ['n', 3] },
      { name: 'idx', type: 'int64', dims: ['k'] },
    ],
    outputs: [
      { name: 'sum', type: 'float32', dims: ['k'] },
      { name: 'shape', type: 'int64', dims: [2] },
    ],
    initializers: [{ name: 'axes', type: 'int64', dims: [1], data: new BigInt64Array([1n]) }],
    nodes: [
      { op: 'Concat', inputs: ['a', 'b'], outputs: ['c'], attributes: { axis: { i: 0 } } },
      { op: 'Gather', inputs: ['c', 'idx'], outputs: ['g'], attributes: { axis: { i: 0 } } },
      { op: 'ReduceSum', inputs: ['g', 'axes'], outputs: ['sum'], attributes: { keepdims: { i: 0 } } },
      { op: 'Shape', inputs: ['c'], outputs: ['shape'] },
    ],
  });

/** If with two subgraph branches that read an outer-scope input; one branch has its own initializer. */
const ifBranches = () =>
  buildModel({
    graphName: 'if',
    inputs: [
      { name: 'cond', type: 'bool', dims: [] },
      { name: 'x', type: 'float32', dims: [3] },
    ],
    outputs: [{ name: 'y', type: 'float32', dims: [3] }],
    nodes: [
      {
        op: 'If',
        inputs: ['cond'],
        outputs: ['y'],
        attributes: {
          then_branch: {
            g: {
              graphName: 'then',
              inputs: [],
              outputs: [{ name: 'then_y', type: 'float32', dims: [3] }],
              initializers: [{ name: 'one', type: 'float32', dims: [1], data: new Float32Array([1]) }],
              nodes: [{ op: 'Add', inputs: ['x', 'one'], outputs: ['then_y'] }],
            },
          },
          else_branch: {
            g: {
              graphName: 'else',
              inputs: [],
              outputs: [{ name: 'else_y', type: 'float32', dims: [3] }],
              nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['else_y'] }],
            },
          },
        },
      },
    ],
  });

/** A string tensor through Identity; int32 -> Cast -> Softmax -> SplitToSequence (a sequence output); a float16 Cast. */
const valueKinds = () =>
  buildModel({
    graphName: 'value_kinds',
    inputs: [
      { name: 's', type: 'string', dims: ['n'] },
      { name: 'i', type: 'int32', dims: [2, 2] },
    ],
    outputs: [
      { name: 's_out', type: 'string', dims: ['n'] },
      { name: 'seq', type: 'float32', dims: [1, 2], sequence: true },
      { name: 'half', type: 'float16', dims: [2, 2] },
    ],
    nodes: [
      { op: 'Identity', inputs: ['s'], outputs: ['s_out'] },
      { op: 'Cast', inputs: ['i'], outputs: ['f'], attributes: { to: { i: 1 } } },
      { op: 'Softmax', inputs: ['f'], outputs: ['p'], attributes: { axis: { i: 1 } } },
      { op: 'SplitToSequence', inputs: ['p'], outputs: ['seq'], attributes: { axis: { i: 0 } } },
      { op: 'Cast', inputs: ['p'], outputs: ['half'], attributes: { to: { i: 10 } } },
    ],
  });

/** File name (in test/fixtures/fuzz/) -> model bytes. */
export function fuzzSeeds(): Record<string, Uint8Array> {
  return {
    'conv.onnx': conv(),
    'mlp.onnx': mlp(),
    'concat-gather.onnx': concatGather(),
    'if.onnx': ifBranches(),
    'value-kinds.onnx': valueKinds(),
  };
}
