// mlp.ts: a small batch-friendly MLP (x: [batch, 32] -> y: [batch, 8]) for the pool and batching tests.
import { buildModel } from './onnx.js';
import { random } from './models.js';

export const mlp = () =>
  buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 32] }],
    outputs: [
      { name: 'y', type: 'float32', dims: ['batch', 8] },
      { name: 'norm', type: 'float32', dims: ['batch', 1] },
    ],
    initializers: [
      { name: 'w1', type: 'float32', dims: [32, 64], data: random(32 * 64, 11) },
      { name: 'b1', type: 'float32', dims: [64], data: random(64, 12) },
      { name: 'w2', type: 'float32', dims: [64, 8], data: random(64 * 8, 13) },
      { name: 'axes', type: 'int64', dims: [1], data: new BigInt64Array([1n]) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h'] },
      { op: 'Add', inputs: ['h', 'b1'], outputs: ['hb'] },
      { op: 'Relu', inputs: ['hb'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'w2'], outputs: ['y'] },
      { op: 'ReduceSumSquare', inputs: ['y', 'axes'], outputs: ['norm'], attributes: { keepdims: { i: 1 } } },
    ],
    opset: 18,
  });
