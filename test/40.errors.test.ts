// 40.errors: every bad input gets an error that names what was wrong, and none of them crash the process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { addMul, identity, matmul, random, slowChain } from './support/models.js';
import { descriptorOf, runSyncDescribed, tensorAt } from './support/native-run.js';
import { InferenceSession, ort, OrtError, Tensor, type Ort } from './support/ort.js';

let session: Ort.InferenceSession;
let fixed: Ort.InferenceSession;
const f32 = (n: number, dims: number[]) => new Tensor('float32', new Float32Array(n), dims);
const good = () => ({ a: f32(3, [1, 3]), b: f32(3, [1, 3]) });

beforeAll(async () => {
  session = await InferenceSession.create(addMul());
  fixed = await InferenceSession.create(identity('float32', [2, 3]));
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const result = await promise.then(() => undefined, (e: Error) => e);
  if (!result) throw new Error('expected a rejection');
  return result;
}

describe('bad feeds are refused before ONNX Runtime sees them', () => {
  test.each<[string, () => unknown, ErrorConstructor, string]>([
    ['feeds not an object', () => null, TypeError, 'feeds must be an object mapping input names to Tensors; received null'],
    ['feeds a Tensor', () => f32(3, [3]), TypeError, 'feeds must be an object mapping input names to Tensors; received an object (Tensor)'],
    ['a missing input', () => ({ a: f32(3, [1, 3]) }), TypeError, "feeds is missing input 'b'"],
    ['a value that is not a tensor', () => ({ ...good(), b: new Float32Array(3) }), TypeError, "input 'b' must be a Tensor; received a Float32Array of length 3"],
    ['the wrong element type', () => ({ ...good(), a: new Tensor('float64', new Float64Array(3), [1, 3]) }), TypeError, "input 'a' has element type 'float64', but the model expects 'float32'"],
    ['the wrong rank', () => ({ ...good(), a: f32(3, [3]) }), RangeError, "input 'a' has 1 dims [3], but the model expects 2 [n,3]"],
    ['a fixed dim not matched', () => ({ ...good(), a: f32(4, [1, 4]) }), RangeError, "input 'a' has dims[1] = 4, but the model fixes it at 3 (model shape [n,3])"],
    ['a negative dim', () => ({ ...good(), a: { type: 'float32', data: new Float32Array(3), dims: [-1, 3] } }), RangeError, "input 'a': Tensor dims[0] must be a non-negative integer; received number -1"],
    ['a non-integer dim', () => ({ ...good(), a: { type: 'float32', data: new Float32Array(3), dims: [0.5, 3] } }), RangeError, "input 'a': Tensor dims[0] must be a non-negative integer; received number 0.5"],
    ['data length not the product of dims', () => ({ ...good(), a: { type: 'float32', data: new Float32Array(5), dims: [2, 3] } }), RangeError, "input 'a': Tensor data has 5 elements but dims [2,3] need 6"],
  ])('%s', async (_name, feeds, kind, message) => {
    const error = await rejection(session.run(feeds() as never));
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toBe(message);
    expect(() => session.runSync(feeds() as never)).toThrow(message);
  });

  test('a detached ArrayBuffer', async () => {
    const data = new Float32Array(6);
    const tensor = new Tensor('float32', data, [2, 3]);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    const error = await rejection(fixed.run({ x: tensor }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe("input 'x' cannot be read: its ArrayBuffer was detached (transferred?)");
  });

  test('a disposed tensor, as an input and as a preallocated output', async () => {
    const tensor = new Tensor('float32', new Float32Array(6), [2, 3]);
    tensor.dispose();
    const error = await rejection(fixed.run({ x: tensor }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe("input 'x' was disposed (tensor.dispose()): it has no data to run on");
    const out = new Tensor('float32', new Float32Array(6), [2, 3]);
    out.dispose();
    const fetchError = await rejection(fixed.run({ x: new Tensor('float32', new Float32Array(6), [2, 3]) }, { [fixed.outputNames[0]]: out }));
    expect(fetchError).toBeInstanceOf(TypeError);
    expect(fetchError.message).toBe(`fetches['${fixed.outputNames[0]}'] was disposed (tensor.dispose()): it has no data to run on`);
  });

  test('a string tensor whose array changed length after construction', async () => {
    const strings = await InferenceSession.create(identity('string', [2]));
    const data = ['a', 'b'];
    const tensor = new Tensor('string', data, [2]);
    data.push('c');
    const error = await rejection(strings.run({ x: tensor }));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe("input 'x' has 3 elements of data but dims [2] need 2");
  });
});

describe('bad fetches and options', () => {
  test.each<[string, unknown, unknown, ErrorConstructor, string]>([
    ['an unknown output name', ['nope'], undefined, TypeError, "fetches has 'nope', which is not an output of this model (outputs: sum, product)"],
    ['a name twice', ['sum', 'sum'], undefined, TypeError, 'fetches names an output more than once'],
    ['no outputs', [], undefined, TypeError, 'fetches must name at least one output'],
    ['a non-string name', [7], undefined, TypeError, 'fetches[0] must be an output name; received number 7'],
    ['a preallocated output of the wrong type', { sum: new Tensor('int32', new Int32Array(3), [1, 3]) }, undefined, TypeError, "fetches['sum'] has element type 'int32', but the model expects 'float32'"],
    ['an unknown run option', ['sum'], { tagg: 'x' }, TypeError, "run options has an unknown option 'tagg' (known: logSeverityLevel, logVerbosityLevel, tag, configEntries, signal, extra, terminate)"],
    ['terminate not a boolean', ['sum'], { terminate: 1 }, TypeError, 'run options.terminate must be a boolean; received number 1'],
    ['a run option of the wrong type', ['sum'], { logSeverityLevel: 'high' }, TypeError, 'run options.logSeverityLevel must be an integer; received the string "high"'],
  ])('%s', async (_name, fetches, options, kind, message) => {
    const error = await rejection(session.run(good(), fetches as never, options as never));
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toBe(message);
  });
});

describe('failures inside ONNX Runtime', () => {
  test('a shape ONNX Runtime rejects at run time gives an OrtError, and the session stays usable', async () => {
    const mm = await InferenceSession.create(matmul());
    const error = await rejection(mm.run({ x: f32(6, [2, 3]), w: f32(8, [4, 2]) }));
    expect(error).toBeInstanceOf(OrtError);
    expect((error as Ort.OrtError).code).toMatch(/^(INVALID_ARGUMENT|FAIL|RUNTIME_EXCEPTION)$/);
    expect(error.message).toMatch(/MatMul|dimension/i);
    expect(error.stack).toContain('40.errors.test.ts');
    const ok = await mm.run({ x: f32(6, [2, 3]), w: f32(12, [3, 4]) });
    expect(ok.y.dims).toEqual([2, 4]);
  });
});

describe('the native layer does not trust its caller', () => {
  const require = createRequire(import.meta.url);
  const { native } = require('../dist/binding.js') as typeof import('../lib/binding.js');

  test('bad arguments to the addon throw instead of crashing', async () => {
    expect(() => native.init(42 as never)).toThrow('init: libraryPath must be a string');
    expect(() => native.createSession(42 as never, {})).toThrow('createSession: the model must be a path string or a Uint8Array');
    expect(() => native.createSession(new Uint8Array(0), {})).toThrow('createSession: the model bytes are empty');
    expect(() => native.createSession('x.onnx', { intraOpNumThreads: 'two' } as never)).toThrow('option intraOpNumThreads must be a number');
    const s = await native.createSession(identity('float32', ['n']), {});
    const run = (numbers: number[], slots: unknown[]) => () => runSyncDescribed(s, numbers, slots);
    const y = [0, -1]; // fetch output 0 into memory of ONNX Runtime's
    expect(run([1, 1, ...tensorAt(0, 1, [3]), ...y], [new Float32Array(2)])).toThrow("input 'x': data holds 2 elements but dims [3] need 3");
    expect(run([1, 1, ...tensorAt(0, 1, [2]), ...y], [new Float64Array(2)])).toThrow("input 'x': the TypedArray's element size does not match its element type");
    expect(run([1, 1, ...tensorAt(0, 1, [2]), ...y], [[1, 2]])).toThrow("input 'x': data must be a TypedArray");
    expect(run([1, 1, ...tensorAt(9, 1, [2]), ...y], [new Float32Array(2)])).toThrow('run: an input index is out of range');
    expect(run([1, 1, ...tensorAt(0, 1, [2]), 5, -1], [new Float32Array(2)])).toThrow('run: an output index is out of range');
    expect(run([1, 1, ...tensorAt(0, 1, [-2]), ...y], [new Float32Array(2)])).toThrow("input 'x': dims[0] must be a non-negative integer");
    expect(run([1, 1, ...tensorAt(0, 99, [2]), ...y], [new Float32Array(2)])).toThrow("input 'x': element type code 99 is not supported");
    expect(run([1, 1, ...tensorAt(0, 300, [2]), ...y], [new Float32Array(2)])).toThrow('run: a type code is out of range');
    // A descriptor that says less than it claims, or more than it holds, is refused, not read past.
    expect(run([1, 1, 0, 1, 1], [new Float32Array(2)])).toThrow('run: the run descriptor ends early');
    expect(run([1, 1, 0, 1, 3, 2], [new Float32Array(2)])).toThrow('run: the run descriptor ends early');
    expect(run([2 ** 21, 1], [])).toThrow('run: the feed count is out of range');
    const lie = new Float64Array(4);
    lie.set([1000, 1, 1, 0]);
    expect(() => s.runSync(lie, [new Float32Array(2)], undefined)).toThrow("run: the run descriptor's length is out of range");
    expect(() => s.runSync(new Float32Array(4) as never, [new Float32Array(2)], undefined)).toThrow('run: the run descriptor must be a Float64Array');
    expect(() => s.runSync([1, 1, 1] as never, [new Float32Array(2)], undefined)).toThrow('run: the run descriptor must be a Float64Array');
    // A detached one has no memory left to read.
    const detached = descriptorOf([1, 1, ...tensorAt(0, 1, [1]), ...y]);
    structuredClone(detached.buffer, { transfer: [detached.buffer as ArrayBuffer] });
    expect(() => s.runSync(detached, [new Float32Array(1)], undefined)).toThrow('run: the run descriptor is empty');
    expect(run([1, 1, ...tensorAt(0, 1, [2]), ...y], ['not an array'] as never)).toThrow("input 'x': data must be a TypedArray");
    expect(() => s.runSync(descriptorOf([1, 1, ...tensorAt(0, 1, [2]), ...y]), 'not an array' as never, undefined)).toThrow('run: the data slots must be an array');
    // V8's own receiver check, or ours where it does not apply
    expect(() => s.run.call({}, descriptorOf([]), [], undefined)).toThrow(/Illegal invocation|this is not an ort-napi session/);
    s.release();
    s.release();
    expect(run([1, 1, ...tensorAt(0, 1, [2]), ...y], [new Float32Array(2)])).toThrow('the session was released');
  });

  test('an index, type code, rank or device id that is no integer is named (not node-addon-api\'s "A number was expected")', async () => {
    const s = await native.createSession(identity('float32', ['n']), {});
    const run = (numbers: number[]) => () => runSyncDescribed(s, numbers, [new Float32Array(2)]);
    expect(run([1, 1, NaN, 1, 1, 2, 0, -1])).toThrow('run: an input index is out of range');
    expect(run([1, 1, ...tensorAt(0, 1, [2]), 1.5, -1])).toThrow('run: an output index is out of range');
    expect(run([1, 1, 0, 0.5, 1, 2, 0, -1])).toThrow('run: a type code is out of range');
    expect(run([1, 1, 0, 1, Infinity, 2, 0, -1])).toThrow('run: a rank is out of range');
    const binding = s.createIoBinding();
    expect(() => binding.bindInput('0' as never, 1, new Float32Array(2), [2])).toThrow('bindInput: the input index must be an integer from 0 to 4294967295');
    expect(() => binding.bindOutput(NaN, null, null, null)).toThrow('bindOutput: the output index must be an integer from 0 to 4294967295');
    expect(() => native.allocateTensor({} as never, [2], 0, undefined)).toThrow('allocateTensor: the element type code must be an integer from 0 to 2147483647');
    expect(() => native.allocateTensor(1, 4 as never, 0, undefined)).toThrow('allocateTensor: dims must be an array');
    expect(() => native.allocateTensor(1, [2, -1], 0, undefined)).toThrow('allocateTensor: each dim must be an integer from 0 to 9007199254740992');
    expect(() => native.allocateTensor(1, [2], 1n as never, undefined)).toThrow('allocateTensor: the device id must be an integer from 0 to 2147483647');
    binding.release();
    s.release();
  });

  test('random arguments to every native entry point (runs, bindings, device tensors, the JSON reader, run options, sessions): 6,000 calls in a child process, which ends normally, every failure an Error that names what was wrong', () => {
    const summary = fuzzChild('native-args-fuzz.cjs', 6000, [identity('float32', ['n']), identity('string', ['n']), matmul(2, 2)]);
    // The calls reach past the argument checks, and the checks refuse most of them.
    expect(summary.returned - summary.rejected).toBeGreaterThan(summary.calls * 0.05);
    expect(summary.threw).toBeGreaterThan(summary.calls * 0.5);
  });
});

describe('the public API does not trust its caller either', () => {
  test('an int64 element BigInt() cannot take, and a binding name that is no string, are named', async () => {
    expect(() => new Tensor('int64', ['a'] as never)).toThrow(`Tensor data[0] of type 'int64' must be an integer (a number or a bigint); received the string "a"`);
    expect(() => new Tensor('uint64', [1, , 3] as never)).toThrow(`Tensor data[1] of type 'uint64' must be an integer (a number or a bigint); received undefined`);
    expect(new Tensor('int64', [1, 2n, '3', true] as never).data).toEqual(BigInt64Array.from([1n, 2n, 3n, 1n])); // what onnxruntime-common takes
    const binding = fixed.createIoBinding();
    expect(() => binding.bindInput(Symbol('x') as never, f32(6, [2, 3]))).toThrow('bindInput name must be the name of an input of this model (x); received the symbol Symbol(x)');
    expect(() => binding.bindOutput({} as never, { device: 'cpu' })).toThrow('bindOutput name must be the name of an output of this model (y); received an object (Object)');
    binding.release();
  });

  test('SessionPool.run with feeds that are no object rejects with the session\'s message on every path (a free slot or a busy one; a signal, a deadline, an observer), and never throws', async () => {
    // Runs of some milliseconds, never short enough to run inline: busy slots stay busy.
    const pool = await ort.SessionPool.create(slowChain(256, 8), { size: 1 });
    const x = new Tensor('float32', random(256 * 256, 3), [256, 256]);
    try {
      for (const options of [undefined, { signal: new AbortController().signal }, { timeoutMs: 1000 }, { observe: () => {} }]) {
        for (const busy of [false, true]) {
          // Three runs at once take the one session's slots: the next request waits in the session.
          const running = busy ? [pool.run({ x }), pool.run({ x }), pool.run({ x })] : [];
          if (busy) expect(pool.stats().inFlight).toBeGreaterThan(0);
          let result: Promise<unknown> | undefined;
          expect(() => (result = pool.run(null as never, options))).not.toThrow(); // before the fix: "Cannot read properties of null (reading 'x')", thrown
          await expect(result).rejects.toThrow('feeds must be an object mapping input names to Tensors; received null');
          await Promise.all(running);
        }
      }
    } finally {
      await pool.close();
    }
  });

  test('random arguments to Tensor, InferenceSession (create, run, runSync, I/O binding) and SessionPool: 5,000 calls in a child process, which ends normally, every failure an Error that names what was wrong', () => {
    const summary = fuzzChild('api-args-fuzz.cjs', 5000, [identity('float32', ['n']), identity('string', ['n'])]);
    expect(summary.returned - summary.rejected).toBeGreaterThan(summary.calls * 0.03);
    expect(summary.threw + summary.rejected).toBeGreaterThan(summary.calls * 0.5);
  });
});

interface FuzzSummary { calls: number; returned: number; threw: number; rejected: number; nonErrors: string[]; unnamed: string[] }

/**
 * Runs test/support/<script> in a child process on these models, for `calls` random calls, and
 * checks what every such child must show: it ended normally (a crash prints the call that made it),
 * and every failure was an Error whose message names something of the call. The seed is the UTC
 * date unless ORT_NAPI_FUZZ_SEED is set.
 */
function fuzzChild(script: string, calls: number, models: Uint8Array[]): FuzzSummary {
  const seed = Number(process.env.ORT_NAPI_FUZZ_SEED ?? new Date().toISOString().slice(0, 10).replaceAll('-', ''));
  const dir = mkdtempSync(join(tmpdir(), 'ort-napi-args-fuzz-'));
  const paths = models.map((bytes, i) => {
    const path = join(dir, `model${i}.onnx`);
    writeFileSync(path, bytes);
    return path;
  });
  const log = join(dir, 'calls.log');
  // cwd: the temporary folder, where a session option such as optimizedModelFilePath: 'x' writes its file.
  const child = spawnSync(process.execPath, [join(__dirname, 'support', script), String(seed), String(calls), log, ...paths], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  const lastCall = () => readFileSync(log, 'utf8').trimEnd().split('\n').at(-1);
  expect({ status: child.status, signal: child.signal }, `${script}, seed ${seed}: the child ended during ${lastCall()}\n${child.stderr.slice(-2000)}`).toEqual({ status: 0, signal: null });
  const summary = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as FuzzSummary;
  console.log(`[40.errors] ${script}, seed ${seed} (ORT_NAPI_FUZZ_SEED repeats it): ${summary.calls} calls, ${summary.returned} returned (${summary.rejected} of them rejected later), ${summary.threw} threw`);
  expect(summary.nonErrors).toEqual([]);
  expect(summary.unnamed).toEqual([]);
  return summary;
}
