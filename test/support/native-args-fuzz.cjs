// native-args-fuzz.cjs: random arguments to every native entry point the library calls, in a child
// process of test/40.errors (a crash ends only the child). Each call is written to LOG before it is
// made, so a crash names its call. Prints a JSON summary as its last line.
//   node native-args-fuzz.cjs SEED CALLS LOG MODEL...   (MODELs: float32 identity, string identity, a MatMul)
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { detached, fuzz, generator, hostile, resizable, shared, show, TYPED } = require('./args-fuzz.cjs');
const ort = require(join(__dirname, '..', '..', 'dist', 'index.js'));
const { native } = require(join(__dirname, '..', '..', 'dist', 'binding.js'));

const [seed, calls] = process.argv.slice(2, 4).map(Number);
const models = process.argv.slice(5).map((p) => readFileSync(p));

const { random, pick } = generator(seed);
const VALUES = [
  ...hostile(pick),
  () => 2, () => Infinity, () => 2 ** 32, () => -0, () => 16, () => 13, () => 255, () => '\u0000',
  () => [1], () => [0], () => [2 ** 31], () => ['a'], () => [1, 2], () => [[1]], () => new Array(100_000).fill(1), () => [2 ** 32, 2 ** 32],
  () => new (pick(TYPED))(0), () => resizable(pick(TYPED), 16), () => shared(pick(TYPED), 16), () => Buffer.from('abcd'),
];
const any = () => pick(VALUES)();
const dims = () => pick([() => [4], () => [2, 2], () => [1, 4], () => [0], () => [], () => [-1], () => [2 ** 31, 2 ** 31], any, () => new Array(40).fill(1)])();
const typeCode = () => pick([1, 1, 1, 8, 9, 2, 3, 10, 16, 7, 11, 0, 99, -1, 24, 22, any()]);
const data = () => pick([() => new Float32Array(4), () => ['a', 'b', 'c', 'd'], () => new Uint8Array(4), () => new BigInt64Array(4), any])();
// A run as the library asks for one (lib/session.ts, describe): numbers in a run descriptor,
// [feedCount, fetchCount, per feed: index, typeCode, rank, dims..., per fetch: index, -1 or a typeCode
// with rank and dims], and the data in slots; now and then a number or a slot replaced, one added
// or cut, the descriptor's own length wrong, or the descriptor detached or no Float64Array at all.
const NUMBERS = [0, 1, 2, -1, 4, 2 ** 31, 2 ** 53, 1.5, NaN, Infinity, -Infinity, -0, 1e300, 99, 8, 1024, 1025];
const number = () => (random() < 0.5 ? pick(NUMBERS) : Math.floor(random() * 6) - 1);
/** dims() as numbers: a rank and its dims (a rank and a dim for dims() that are no short array of numbers). */
const dimNumbers = () => {
  try {
    const d = dims();
    if (Array.isArray(d) && d.length < 64 && d.every((x) => typeof x === 'number')) return [d.length, ...d];
  } catch {
    // a hostile value: its getters throw
  }
  return [number(), number()];
};
const tensorNumbers = () => [pick([0, 0, 0, 1, 2, -1, number()]), typeCode(), ...dimNumbers()];
function describedRun() {
  const feeds = pick([0, 1, 1, 1, 2]);
  const fetches = pick([1, 1, 2, 0]);
  const numbers = [feeds, fetches];
  const slots = [];
  for (let i = 0; i < feeds; i++) numbers.push(...tensorNumbers()), slots.push(data());
  for (let i = 0; i < fetches; i++) {
    if (random() < 0.7) numbers.push(pick([0, 0, 1, number()]), -1);
    else numbers.push(...tensorNumbers()), slots.push(data());
  }
  const r = random();
  if (r < 0.15) numbers[Math.floor(random() * numbers.length)] = number();
  else if (r < 0.2) numbers.push(number());
  else if (r < 0.25) numbers.length = Math.floor(random() * numbers.length);
  if (random() < 0.1) slots[Math.floor(random() * (slots.length + 1))] = any();
  const descriptor = new Float64Array(Math.max(8, numbers.length + 1 + (random() < 0.5 ? 0 : 4)));
  descriptor[0] = random() < 0.1 ? number() : numbers.length + 1;
  descriptor.set(numbers.slice(0, descriptor.length - 1).map((x) => (typeof x === 'number' ? x : NaN)), 1);
  if (random() < 0.03) structuredClone(descriptor.buffer, { transfer: [descriptor.buffer] }); // detached
  return { descriptor: random() < 0.05 ? any() : descriptor, slots: random() < 0.05 ? any() : slots };
}
const runOptions = () => pick([() => undefined, () => ({}), () => ({ logSeverityLevel: any(), tag: any(), terminate: any() }), () => new native.RunOptions({}), any])();
const SESSION_OPTIONS = ['intraOpNumThreads', 'interOpNumThreads', 'executionMode', 'graphOptimizationLevel', 'enableCpuMemArena', 'logSeverityLevel', 'freeDimensionOverrides', 'executionProviders', 'hugePages', 'optimizedModelFilePath', 'externalData', 'extra'];

/** One call: its description and the thunk that makes it. */
function nextCall(sessions, bindings) {
  const s = pick(sessions);
  const b = pick(bindings);
  const r = random();
  if (r < 0.3) {
    const { descriptor, slots } = describedRun();
    const args = [descriptor, slots, runOptions()];
    return [`session.runSync(${args.map(show)})`, () => s.runSync(...args)];
  }
  if (r < 0.5) {
    const { descriptor, slots } = describedRun();
    const args = [descriptor, slots, runOptions(), any(), any()];
    return [`session.run(${args.map(show)})`, () => s.run(...args)];
  }
  if (r < 0.6) {
    const args = [pick([0, 1, -1, any()]), typeCode(), data(), dims()];
    if (random() < 0.3) args[Math.floor(random() * 4)] = any();
    return [`binding.bindInput(${args.map(show)})`, () => b.bindInput(...args)];
  }
  if (r < 0.68) {
    const args = [pick([0, 1, -1, any()]), pick([null, typeCode(), 'cuda']), pick([null, data(), any()]), pick([null, dims()])];
    return [`binding.bindOutput(${args.map(show)})`, () => b.bindOutput(...args)];
  }
  if (r < 0.74) {
    const method = pick(['runSync', 'run', 'getOutputs', 'clearBoundInputs', 'clearBoundOutputs', 'synchronizeInputs', 'synchronizeOutputs']);
    const options = runOptions();
    return [`binding.${method}(${show(options)})`, () => b[method](options)];
  }
  if (r < 0.8) {
    const args = [typeCode(), dims(), any(), any()];
    return [`allocateTensor(${args.map(show)})`, () => native.allocateTensor(...args)];
  }
  if (r < 0.86) {
    const args = [pick([() => Buffer.from('{"inputs":[{"data":[1,2]}]}'), () => resizable(Uint8Array), () => shared(Uint8Array), () => detached(Uint8Array), any])(), any()];
    return [`parseJson(${args.map(show)})`, () => native.parseJson(...args)];
  }
  if (r < 0.9) {
    const options = random() < 0.7 ? { logSeverityLevel: any(), logVerbosityLevel: any(), tag: any(), terminate: any() } : any();
    return [`new RunOptions(${show(options)})`, () => new native.RunOptions(options)];
  }
  if (r < 0.94) {
    const model = pick([() => models[0], any, () => '/nonexistent.onnx', () => new Uint8Array(3), () => detached(Uint8Array), () => resizable(Uint8Array)])();
    const options = random() < 0.8 ? { [pick(SESSION_OPTIONS)]: any() } : any();
    return [`createSession(${show(model)}, ${show(options)})`, () => native.createSession(model, options)];
  }
  if (r < 0.97) {
    const method = pick(['metadata', 'endProfiling', 'createIoBinding']);
    return [`session.${method}()`, () => s[method]()];
  }
  const level = any();
  return [`setLogLevel(${show(level)})`, () => { try { native.setLogLevel(level); } finally { native.setLogLevel(4); } }];
}

(async () => {
  await ort.InferenceSession.create(models[0]); // loads ONNX Runtime
  native.setLogLevel(4); // ONNX Runtime's own lines about the refused runs are noise here
  const sessions = [];
  for (const m of models) sessions.push(await native.createSession(m, {}));
  const bindings = sessions.map((s) => s.createIoBinding());
  const summary = await fuzz(calls, process.argv[4], () => nextCall(sessions, bindings));
  process.stdout.write(JSON.stringify(summary) + '\n');
})();
