// models.ts: the benchmark models, generated at bench time with the ONNX writer the tests use, and
// the feeds every side (the floor, ort-napi, onnxruntime-node) runs them with.
import { buildModel, type NodeSpec, type TensorSpec } from '../test/support/onnx.js';

/** One input as all sides feed it: the same bytes, dims and element type. */
export interface Feed {
  name: string;
  type: 'float32' | 'int64';
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface BenchModel {
  /** What the model stands for, for the tables. */
  about: string;
  bytes(): Uint8Array;
  /** Feeds with `batch` rows. */
  feeds(batch: number): Feed[];
  /** Its inputs and outputs all start with a dynamic batch dim (the pool's batching needs it). */
  batchable: boolean;
}

/** Deterministic weights in [-scale, scale] (a linear congruential generator). */
export function weights(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = ((s / 0xffffffff) * 2 - 1) * scale;
  }
  return out;
}

const floats = (name: string, dims: number[], seed: number): Feed => ({
  name,
  type: 'float32',
  dims,
  data: weights(dims.reduce((a, b) => a * b, 1), seed, 0.5),
});

type Init = TensorSpec & { name: string };
const matrix = (name: string, k: number, m: number, seed: number): Init => ({ name, type: 'float32', dims: [k, m], data: weights(k * m, seed, 1 / Math.sqrt(k)) });
const vector = (name: string, m: number, seed: number): Init => ({ name, type: 'float32', dims: [m], data: weights(m, seed, 0.1) });

/** A few elementwise ops on [batch, 16]: 1 input, 1 output; the binding's overhead is all there is. */
const tiny: BenchModel = {
  about: '1 in, 1 out, 3 elementwise ops',
  batchable: true,
  bytes: () =>
    buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: ['batch', 16] }],
      outputs: [{ name: 'y', type: 'float32', dims: ['batch', 16] }],
      initializers: [vector('c', 16, 1), vector('d', 16, 2)],
      nodes: [
        { op: 'Add', inputs: ['x', 'c'], outputs: ['a'] },
        { op: 'Mul', inputs: ['a', 'd'], outputs: ['m'] },
        { op: 'Relu', inputs: ['m'], outputs: ['y'] },
      ],
    }),
  feeds: (batch) => [floats('x', [batch, 16], 3)],
};

/**
 * Shaped like silero VAD v4: an audio chunk, the sample rate as an int64 the model declares a scalar
 * and callers feed as [1], and a two-layer LSTM's h and c states in; a speech probability and the
 * new states out. 4 inputs, 3 outputs; about 2.7 M weights.
 */
const SILERO_HIDDEN = 64;
const SILERO_FEATURES = [512, 1536, 1024];
const silero: BenchModel = {
  about: '4 in (incl. int64 sr, LSTM state), 3 out',
  batchable: false,
  bytes: () => {
    const H = SILERO_HIDDEN;
    const initializers: Init[] = [
      { name: 'rate', type: 'float32', dims: [], data: new Float32Array([16000]) },
      { name: 'zero', type: 'int64', dims: [], data: new BigInt64Array([0n]) },
      { name: 'one', type: 'int64', dims: [], data: new BigInt64Array([1n]) },
      { name: 'axis0', type: 'int64', dims: [1], data: new BigInt64Array([0n]) },
      { name: 'gates', type: 'int64', dims: [4], data: new BigInt64Array([BigInt(H), BigInt(H), BigInt(H), BigInt(H)]) },
    ];
    const nodes: NodeSpec[] = [
      // The chunk scaled by sr / 16000, so that sr takes part as in the real model.
      { op: 'Cast', inputs: ['sr'], outputs: ['srf'], attributes: { to: { i: 1 } } },
      { op: 'Div', inputs: ['srf', 'rate'], outputs: ['scale'] },
      { op: 'Mul', inputs: ['input', 'scale'], outputs: ['f0'] },
    ];
    for (let l = 0; l < SILERO_FEATURES.length - 1; l++) {
      const [k, m] = [SILERO_FEATURES[l], SILERO_FEATURES[l + 1]];
      initializers.push(matrix(`w${l}`, k, m, l + 1), vector(`b${l}`, m, l + 11));
      nodes.push(
        { op: 'MatMul', inputs: [`f${l}`, `w${l}`], outputs: [`mm${l}`] },
        { op: 'Add', inputs: [`mm${l}`, `b${l}`], outputs: [`z${l}`] },
        { op: 'Relu', inputs: [`z${l}`], outputs: [`f${l + 1}`] },
      );
    }
    let x = `f${SILERO_FEATURES.length - 1}`;
    let width = SILERO_FEATURES[SILERO_FEATURES.length - 1];
    for (const [l, index] of [[0, 'zero'], [1, 'one']] as const) {
      const p = `l${l}_`;
      initializers.push(matrix(`${p}w`, width + H, 4 * H, 21 + l), vector(`${p}b`, 4 * H, 31 + l));
      nodes.push(
        { op: 'Gather', inputs: ['h', index], outputs: [`${p}h`], attributes: { axis: { i: 0 } } },
        { op: 'Gather', inputs: ['c', index], outputs: [`${p}c`], attributes: { axis: { i: 0 } } },
        { op: 'Concat', inputs: [x, `${p}h`], outputs: [`${p}xh`], attributes: { axis: { i: 1 } } },
        { op: 'MatMul', inputs: [`${p}xh`, `${p}w`], outputs: [`${p}mm`] },
        { op: 'Add', inputs: [`${p}mm`, `${p}b`], outputs: [`${p}g`] },
        { op: 'Split', inputs: [`${p}g`, 'gates'], outputs: [`${p}i`, `${p}f`, `${p}u`, `${p}o`], attributes: { axis: { i: 1 } } },
        { op: 'Sigmoid', inputs: [`${p}i`], outputs: [`${p}si`] },
        { op: 'Sigmoid', inputs: [`${p}f`], outputs: [`${p}sf`] },
        { op: 'Tanh', inputs: [`${p}u`], outputs: [`${p}tu`] },
        { op: 'Sigmoid', inputs: [`${p}o`], outputs: [`${p}so`] },
        { op: 'Mul', inputs: [`${p}sf`, `${p}c`], outputs: [`${p}fc`] },
        { op: 'Mul', inputs: [`${p}si`, `${p}tu`], outputs: [`${p}iu`] },
        { op: 'Add', inputs: [`${p}fc`, `${p}iu`], outputs: [`${p}cn`] },
        { op: 'Tanh', inputs: [`${p}cn`], outputs: [`${p}tc`] },
        { op: 'Mul', inputs: [`${p}so`, `${p}tc`], outputs: [`${p}hn`] },
        { op: 'Unsqueeze', inputs: [`${p}hn`, 'axis0'], outputs: [`${p}hn3`] },
        { op: 'Unsqueeze', inputs: [`${p}cn`, 'axis0'], outputs: [`${p}cn3`] },
      );
      x = `${p}hn`;
      width = H;
    }
    initializers.push(matrix('wo', H, 1, 41), vector('bo', 1, 42));
    nodes.push(
      { op: 'Concat', inputs: ['l0_hn3', 'l1_hn3'], outputs: ['hn'], attributes: { axis: { i: 0 } } },
      { op: 'Concat', inputs: ['l0_cn3', 'l1_cn3'], outputs: ['cn'], attributes: { axis: { i: 0 } } },
      { op: 'MatMul', inputs: [x, 'wo'], outputs: ['logit0'] },
      { op: 'Add', inputs: ['logit0', 'bo'], outputs: ['logit'] },
      { op: 'Sigmoid', inputs: ['logit'], outputs: ['output'] },
    );
    return buildModel({
      inputs: [
        { name: 'input', type: 'float32', dims: ['batch', SILERO_FEATURES[0]] },
        { name: 'sr', type: 'int64', dims: [] },
        { name: 'h', type: 'float32', dims: [2, 'batch', H] },
        { name: 'c', type: 'float32', dims: [2, 'batch', H] },
      ],
      outputs: [
        { name: 'output', type: 'float32', dims: ['batch', 1] },
        { name: 'hn', type: 'float32', dims: [2, 'batch', H] },
        { name: 'cn', type: 'float32', dims: [2, 'batch', H] },
      ],
      initializers,
      nodes,
    });
  },
  feeds: (batch) => [
    floats('input', [batch, SILERO_FEATURES[0]], 5),
    { name: 'sr', type: 'int64', dims: [1], data: new BigInt64Array([16000n]) },
    floats('h', [2, batch, SILERO_HIDDEN], 6),
    floats('c', [2, batch, SILERO_HIDDEN], 7),
  ],
};

/** A small convolutional image classifier on [batch, 3, 56, 56], softmax over 100 classes: about 90 MFLOP. */
const CLASSIFIER_SIDE = 56;
const classifier: BenchModel = {
  about: 'conv net, 1 in, 1 out',
  batchable: true,
  bytes: () => {
    const convs: [number, number, number][] = [
      [3, 32, 1],
      [32, 64, 2],
      [64, 64, 1],
    ];
    const initializers: Init[] = [];
    const nodes: NodeSpec[] = [];
    let h = 'x';
    convs.forEach(([cin, cout, stride], l) => {
      initializers.push({ name: `k${l}`, type: 'float32', dims: [cout, cin, 3, 3], data: weights(cout * cin * 9, l + 21, 1 / Math.sqrt(cin * 9)) });
      initializers.push(vector(`kb${l}`, cout, l + 31));
      nodes.push({ op: 'Conv', inputs: [h, `k${l}`, `kb${l}`], outputs: [`c${l}`], attributes: { pads: { ints: [1, 1, 1, 1] }, strides: { ints: [stride, stride] }, kernel_shape: { ints: [3, 3] } } });
      nodes.push({ op: 'Relu', inputs: [`c${l}`], outputs: [`r${l}`] });
      h = `r${l}`;
    });
    initializers.push(matrix('fc', 64, 100, 41), vector('fcb', 100, 42));
    nodes.push(
      { op: 'GlobalAveragePool', inputs: [h], outputs: ['pool'] },
      { op: 'Flatten', inputs: ['pool'], outputs: ['flat'] },
      { op: 'MatMul', inputs: ['flat', 'fc'], outputs: ['mm'] },
      { op: 'Add', inputs: ['mm', 'fcb'], outputs: ['logits'] },
      { op: 'Softmax', inputs: ['logits'], outputs: ['probs'], attributes: { axis: { i: -1 } } },
    );
    return buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: ['batch', 3, CLASSIFIER_SIDE, CLASSIFIER_SIDE] }],
      outputs: [{ name: 'probs', type: 'float32', dims: ['batch', 100] }],
      initializers,
      nodes,
    });
  },
  feeds: (batch) => [floats('x', [batch, 3, CLASSIFIER_SIDE, CLASSIFIER_SIDE], 8)],
};

/**
 * A convolutional detector on [batch, 3, 256, 256] (about 2 GFLOP): a strided backbone, then per-cell boxes and
 * class scores from 1×1 convs. 1 input, 2 outputs.
 */
const DETECTOR_SIDE = 256;
const DETECTOR_CONVS: [number, number, number][] = [
  [3, 32, 2],
  [32, 64, 1],
  [64, 64, 2],
  [64, 128, 1],
  [128, 128, 2],
  [128, 256, 2],
];
const detector: BenchModel = {
  about: 'conv net, 1 in, 2 out',
  batchable: true,
  bytes: () => {
    const initializers: Init[] = [];
    const nodes: NodeSpec[] = [];
    let h = 'image';
    let side = DETECTOR_SIDE;
    DETECTOR_CONVS.forEach(([cin, cout, stride], l) => {
      initializers.push({ name: `k${l}`, type: 'float32', dims: [cout, cin, 3, 3], data: weights(cout * cin * 9, l + 21, 1 / Math.sqrt(cin * 9)) });
      initializers.push(vector(`kb${l}`, cout, l + 31));
      nodes.push({ op: 'Conv', inputs: [h, `k${l}`, `kb${l}`], outputs: [`c${l}`], attributes: { pads: { ints: [1, 1, 1, 1] }, strides: { ints: [stride, stride] }, kernel_shape: { ints: [3, 3] } } });
      nodes.push({ op: 'Relu', inputs: [`c${l}`], outputs: [`r${l}`] });
      h = `r${l}`;
      side /= stride;
    });
    const channels = DETECTOR_CONVS[DETECTOR_CONVS.length - 1][1];
    const cells = side * side;
    for (const [name, k, seed] of [['boxes', 4, 51], ['scores', 2, 52]] as const) {
      initializers.push({ name: `${name}_k`, type: 'float32', dims: [k, channels, 1, 1], data: weights(k * channels, seed, 1 / Math.sqrt(channels)) });
      initializers.push({ name: `${name}_shape`, type: 'int64', dims: [3], data: new BigInt64Array([0n, BigInt(k), BigInt(cells)]) });
      nodes.push(
        { op: 'Conv', inputs: [h, `${name}_k`], outputs: [`${name}_map`], attributes: { kernel_shape: { ints: [1, 1] } } },
        { op: 'Reshape', inputs: [`${name}_map`, `${name}_shape`], outputs: [`${name}_flat`] },
        { op: 'Transpose', inputs: [`${name}_flat`], outputs: [name === 'scores' ? 'logits' : name], attributes: { perm: { ints: [0, 2, 1] } } },
      );
    }
    nodes.push({ op: 'Sigmoid', inputs: ['logits'], outputs: ['scores'] });
    return buildModel({
      inputs: [{ name: 'image', type: 'float32', dims: ['batch', 3, DETECTOR_SIDE, DETECTOR_SIDE] }],
      outputs: [
        { name: 'boxes', type: 'float32', dims: ['batch', cells, 4] },
        { name: 'scores', type: 'float32', dims: ['batch', cells, 2] },
      ],
      initializers,
      nodes,
    });
  },
  feeds: (batch) => [floats('image', [batch, 3, DETECTOR_SIDE, DETECTOR_SIDE], 9)],
};

/** [batch, 16] in, [batch, 16, 4M] out: with batch 1, a 256 MB output from a 64-byte input. */
const bigOutput: BenchModel = {
  about: '256 MB output',
  batchable: true,
  bytes: () =>
    buildModel({
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
    }),
  feeds: (batch) => [floats('x', [batch, 16], 3)],
};

export const MODELS = { tiny, silero, classifier, detector, bigOutput } satisfies Record<string, BenchModel>;
export type ModelName = keyof typeof MODELS;

const TYPE_CODES = { float32: 1, int64: 7 } as const;

/**
 * The feeds as the floor reads them: a u32 count, then per input a u32 name length, the name,
 * an i32 ONNX element type, a u32 rank, i64 dims, a u64 byte length and the bytes (little-endian).
 */
export function encodeFeeds(feeds: Feed[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
  parts.push(u32(feeds.length));
  for (const f of feeds) {
    const name = new TextEncoder().encode(f.name);
    parts.push(u32(name.length), name, new Uint8Array(new Int32Array([TYPE_CODES[f.type]]).buffer), u32(f.dims.length));
    parts.push(new Uint8Array(new BigInt64Array(f.dims.map(BigInt)).buffer));
    parts.push(new Uint8Array(new BigUint64Array([BigInt(f.data.byteLength)]).buffer));
    parts.push(new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
