// models.ts: the benchmark models, generated at bench time, each with a dynamic batch dim.
import { buildModel, type NodeSpec, type TensorSpec } from '../test/support/onnx.js';

function weights(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = ((s / 0xffffffff) * 2 - 1) * scale;
  }
  return out;
}

/** A few small elementwise ops on [batch, 16]: the binding's overhead dominates. */
export function tiny(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 16] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 16] }],
    initializers: [
      { name: 'c', type: 'float32', dims: [16], data: weights(16, 1, 1) },
      { name: 'd', type: 'float32', dims: [16], data: weights(16, 2, 1) },
    ],
    nodes: [
      { op: 'Add', inputs: ['x', 'c'], outputs: ['a'] },
      { op: 'Mul', inputs: ['a', 'd'], outputs: ['m'] },
      { op: 'Relu', inputs: ['m'], outputs: ['y'] },
    ],
  });
}

/** An MLP 512 -> 1024 -> 1024 -> 512: about 4.2 MFLOP per row. */
export function small(): Uint8Array {
  const sizes = [512, 1024, 1024, 512];
  const initializers: (TensorSpec & { name: string })[] = [];
  const nodes: NodeSpec[] = [];
  let h = 'x';
  for (let l = 0; l < sizes.length - 1; l++) {
    const [k, m] = [sizes[l], sizes[l + 1]];
    initializers.push({ name: `w${l}`, type: 'float32', dims: [k, m], data: weights(k * m, l + 1, 1 / Math.sqrt(k)) });
    initializers.push({ name: `b${l}`, type: 'float32', dims: [m], data: weights(m, l + 11, 0.1) });
    nodes.push({ op: 'MatMul', inputs: [h, `w${l}`], outputs: [`mm${l}`] });
    const last = l === sizes.length - 2;
    nodes.push({ op: 'Add', inputs: [`mm${l}`, `b${l}`], outputs: [last ? 'y' : `z${l}`] });
    if (!last) nodes.push({ op: 'Relu', inputs: [`z${l}`], outputs: [`h${l}`] });
    h = `h${l}`;
  }
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 512] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 512] }],
    initializers,
    nodes,
  });
}

/** A small convolutional net on [batch, 3, 64, 64]: about 120 MFLOP per image. */
export function medium(): Uint8Array {
  const convs: [number, number, number][] = [
    [3, 32, 1],
    [32, 64, 2],
    [64, 64, 1],
  ];
  const initializers: (TensorSpec & { name: string })[] = [];
  const nodes: NodeSpec[] = [];
  let h = 'x';
  convs.forEach(([cin, cout, stride], l) => {
    initializers.push({ name: `k${l}`, type: 'float32', dims: [cout, cin, 3, 3], data: weights(cout * cin * 9, l + 21, 1 / Math.sqrt(cin * 9)) });
    initializers.push({ name: `kb${l}`, type: 'float32', dims: [cout], data: weights(cout, l + 31, 0.1) });
    nodes.push({ op: 'Conv', inputs: [h, `k${l}`, `kb${l}`], outputs: [`c${l}`], attributes: { pads: { ints: [1, 1, 1, 1] }, strides: { ints: [stride, stride] }, kernel_shape: { ints: [3, 3] } } });
    nodes.push({ op: 'Relu', inputs: [`c${l}`], outputs: [`r${l}`] });
    h = `r${l}`;
  });
  initializers.push({ name: 'fc', type: 'float32', dims: [64, 10], data: weights(640, 41, 0.125) });
  nodes.push({ op: 'GlobalAveragePool', inputs: [h], outputs: ['pool'] });
  nodes.push({ op: 'Flatten', inputs: ['pool'], outputs: ['flat'] });
  nodes.push({ op: 'MatMul', inputs: ['flat', 'fc'], outputs: ['y'] });
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 3, 64, 64] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 10] }],
    initializers,
    nodes,
  });
}

/** [batch, 16] in, [batch, 16, 4M] out: with batch 1, a 256 MB output from a 64-byte input. */
export function bigOutput(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 16] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 16, 4194304] }],
    initializers: [
      { name: 'axes', type: 'int64', dims: [1], data: new BigInt64Array([2n]) },
      { name: 'shape', type: 'int64', dims: [3], data: new BigInt64Array([1n, 1n, 4194304n]) },
    ],
    nodes: [
      { op: 'Unsqueeze', inputs: ['x', 'axes'], outputs: ['x3'] },
      { op: 'Expand', inputs: ['x3', 'shape'], outputs: ['y'] },
    ],
  });
}

export const MODELS = { tiny, small, medium, bigOutput } as const;
export type ModelName = keyof typeof MODELS;
