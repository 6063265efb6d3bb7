// api-args-fuzz.cjs: random arguments to ort-napi's public API (Tensor, its factories and methods,
// InferenceSession create/run/runSync, IoBinding, SessionPool), in a child process of test/40.errors
// (a crash ends only the child). Each call is written to LOG before it is made, so a crash names its
// call. Prints a JSON summary as its last line.
//   node api-args-fuzz.cjs SEED CALLS LOG FLOAT_MODEL STRING_MODEL   (identity models on input x, output y)
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { fuzz, generator, hostile, show, thrower } = require('./args-fuzz.cjs');
const ort = require(join(__dirname, '..', '..', 'dist', 'index.js'));

const [seed, calls] = process.argv.slice(2, 4).map(Number);
const [floatModel, stringModel] = process.argv.slice(5).map((p) => readFileSync(p));

const { random, pick } = generator(seed);
const VALUES = [
  ...hostile(pick),
  () => 4, () => 'y', () => 'float32', () => 'string', () => 'int64', () => 'cpu',
  () => [4], () => [2, 2], () => ['4'], () => [2 ** 40], () => [4, 0], () => [1, 2, 3, 4],
  () => new Proxy({ x: 1 }, { get: thrower }), () => new AbortController().signal, () => AbortSignal.abort(),
];
const any = () => pick(VALUES)();
/** A Tensor, valid or spoiled after construction (disposed, detached, grown, shrunk). */
const tensor = () => pick([
  () => new ort.Tensor('float32', new Float32Array(4), [4]),
  () => new ort.Tensor('float32', new Float32Array(4), [2, 2]),
  () => new ort.Tensor('string', ['a', 'b', 'c', 'd'], [4]),
  () => new ort.Tensor('int64', new BigInt64Array(4), [4]),
  () => new ort.Tensor(new Float32Array(4)),
  () => { const t = new ort.Tensor('float32', new Float32Array(4), [4]); t.dispose(); return t; },
  () => { const d = new Float32Array(4); const t = new ort.Tensor('float32', d, [4]); structuredClone(d.buffer, { transfer: [d.buffer] }); return t; },
  () => { const d = ['a', 'b', 'c', 'd']; const t = new ort.Tensor('string', d, [4]); d.push('e'); return t; },
  () => { const b = new ArrayBuffer(16, { maxByteLength: 64 }); return new ort.Tensor('float32', new Float32Array(b), [4]); },
])();
const feed = () => (random() < 0.8 ? tensor() : any());
const feeds = () => pick([() => ({ x: feed() }), () => ({ x: feed(), extra: feed() }), () => ({}), () => ({ [pick(['y', '__proto__', 'constructor'])]: feed() }), any])();
const runOptions = () => pick([() => undefined, () => ({}), () => ({ signal: AbortSignal.abort() }), () => ({ logSeverityLevel: any(), tag: any(), terminate: any(), signal: any() }), any])();
const fetches = () => pick([() => undefined, () => ['y'], () => ['z'], () => [], () => ({ y: tensor() }), () => ({ y: null }), any])();

function nextCall(sessions, pools) {
  const s = pick(sessions);
  const r = random();
  if (r < 0.25) {
    const args = random() < 0.5 ? [feeds(), fetches(), runOptions()] : [feeds(), runOptions()];
    return [`session.run(${args.map(show)})`, () => s.run(...args)];
  }
  if (r < 0.4) {
    const args = [feeds(), runOptions()];
    return [`session.runSync(${args.map(show)})`, () => s.runSync(...args)];
  }
  if (r < 0.55) {
    const p = pick(pools);
    const args = [feeds(), pick([() => undefined, () => ({}), () => ({ timeoutMs: any() }), () => ({ signal: any() }), () => ({ observe: any() }), any])()];
    return [`pool.run(${args.map(show)})`, () => p.run(...args)];
  }
  if (r < 0.75) {
    const args = [random() < 0.5 ? pick(['float32', 'string', 'int64', 'uint64', 'bool', 'float16', 'int4', 'float8e4m3fn']) : any(), any(), any()];
    return [`new Tensor(${args.map(show)})`, () => new ort.Tensor(...args)];
  }
  if (r < 0.82) {
    const t = tensor();
    const method = pick(['getData', 'dispose', 'reshape', 'toString']);
    const arg = any();
    return [`${show(t)}.${method}(${show(arg)})`, () => t[method](arg)];
  }
  if (r < 0.88) {
    const model = pick([() => floatModel, any, () => new Uint8Array(3)])();
    const options = pick([() => undefined, () => ({}), () => ({ executionProviders: any() }), () => ({ intraOpNumThreads: any() }), () => ({ graphOptimizationLevel: any() }), () => ({ extra: any() }), () => ({ freeDimensionOverrides: any() }), () => ({ logSeverityLevel: any() }), any])();
    return [`InferenceSession.create(${show(model)}, ${show(options)})`, () => ort.InferenceSession.create(model, options).then((created) => created.release())];
  }
  if (r < 0.92) {
    const args = [any(), any(), any()];
    const method = pick(['fromPinnedBuffer', 'fromImage', 'fromTexture', 'fromGpuBuffer', 'fromMLTensor']);
    return [`Tensor.${method}(${args.map(show)})`, () => ort.Tensor[method](...args)];
  }
  const binding = s.createIoBinding();
  const input = [random() < 0.7 ? 'x' : any(), feed()];
  const output = [random() < 0.7 ? 'y' : any(), random() < 0.5 ? { device: pick(['cpu', 'cuda', any()]) } : feed()];
  return [`binding: bindInput(${input.map(show)}), bindOutput(${output.map(show)}), run`, async () => {
    try {
      binding.bindInput(...input);
      binding.bindOutput(...output);
      await s.runWithBinding(binding);
      binding.getOutputs();
    } finally {
      binding.release();
    }
  }];
}

(async () => {
  ort.env.logLevel = 'fatal'; // ONNX Runtime's own lines about the refused runs are noise here
  const sessions = [await ort.InferenceSession.create(floatModel), await ort.InferenceSession.create(stringModel)];
  const pools = [await ort.SessionPool.create(floatModel, { size: 1 }), await ort.SessionPool.create(floatModel, { size: 1, batching: { maxBatchSize: 4, maxDelayMs: 1 } })];
  const summary = await fuzz(calls, process.argv[4], () => nextCall(sessions, pools));
  await Promise.all(pools.map((p) => p.close()));
  process.stdout.write(JSON.stringify(summary) + '\n');
})();
