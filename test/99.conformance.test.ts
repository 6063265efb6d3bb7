// 99.conformance: ONNX's own backend test suite (Debian's libonnx-testdata): every model under node/,
// simple/, pytorch-converted/ and pytorch-operator/, every data set, outputs compared with ONNX's
// tolerances (rtol 1e-3, atol 1e-7). Cases in conformance/deny.json fail for a reason of ONNX
// Runtime 1.29's, given there; they still run, and one that starts passing fails the suite until it
// leaves the list.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { buildModel } from './support/onnx.js';
import { readValue } from './support/onnx-data.js';
import { InferenceSession, Tensor, type Ort } from './support/ort.js';

const DATA = process.env.ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
const SUITES = ['node', 'simple', 'pytorch-converted', 'pytorch-operator'];
const RTOL = 1e-3;
const ATOL = 1e-7;
const deny: Record<string, string> = JSON.parse(readFileSync(resolve(__dirname, 'conformance', 'deny.json'), 'utf8'));

const all = existsSync(DATA) ? SUITES.flatMap((suite) => readdirSync(join(DATA, suite)).sort().map((name) => `${suite}/${name}`)) : [];
if (all.length === 0) console.log(`[99.conformance] skipped: no ONNX test data at ${DATA} (apt-get install libonnx-testdata; .ci/run does)`);

// StringNormalizer's cases ask ONNX Runtime for the en_US.UTF-8 locale, which not every machine
// has: ask ONNX Runtime itself, with a one-node model that needs it.
const hasLocale = await InferenceSession.create(
  buildModel({
    inputs: [{ name: 'x', type: 'string', dims: [1] }],
    outputs: [{ name: 'y', type: 'string', dims: [1] }],
    nodes: [{ op: 'StringNormalizer', inputs: ['x'], outputs: ['y'], attributes: { case_change_action: { s: 'LOWER' }, locale: { s: 'en_US.UTF-8' } } }],
  }),
).then(
  (session) => session.release().then(() => true),
  (error: Error) => !/Failed to construct locale/.test(error.message),
);
const needLocale = (name: string) => /strnorm/.test(name);
const cases = hasLocale ? all : all.filter((name) => !needLocale(name));
if (!hasLocale && all.length > 0) {
  console.log(`[99.conformance] skipped ${all.length - cases.length} StringNormalizer cases: the en_US.UTF-8 locale is not installed (apt-get install locales, then enable it in /etc/locale.gen and run locale-gen; .ci/run does)`);
}

function half(bits: number, bfloat: boolean): number {
  if (bfloat) return new Float32Array(new Uint32Array([bits << 16]).buffer)[0];
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function numbers(t: Ort.Tensor): ArrayLike<number | bigint | string> {
  if (t.type === 'float16' || t.type === 'bfloat16') return Array.from(t.data as Uint16Array, (b) => half(b, t.type === 'bfloat16'));
  return t.data as ArrayLike<number>;
}

const FLOATS = new Set(['float32', 'float64', 'float16', 'bfloat16']);

function compare(actual: unknown, expected: Ort.OnnxValue, where: string): void {
  if (expected === null) {
    if (actual !== null) throw new Error(`${where}: expected no value (an absent optional)`);
    return;
  }
  if (expected instanceof Tensor) {
    if (!(actual instanceof Tensor)) throw new Error(`${where}: expected a tensor, got ${String(actual)}`);
    if (actual.type !== expected.type) throw new Error(`${where}: type ${actual.type}, expected ${expected.type}`);
    if (actual.dims.join() !== expected.dims.join()) throw new Error(`${where}: dims [${actual.dims}], expected [${expected.dims}]`);
    const [a, e] = [numbers(actual), numbers(expected)];
    for (let i = 0; i < e.length; i++) {
      const [x, y] = [a[i], e[i]];
      if (FLOATS.has(expected.type)) {
        const [xf, yf] = [Number(x), Number(y)];
        if (Number.isNaN(yf) ? !Number.isNaN(xf) : !(xf === yf || Math.abs(xf - yf) <= ATOL + RTOL * Math.abs(yf))) {
          throw new Error(`${where}[${i}]: ${xf}, expected ${yf}`);
        }
      } else if (x !== y) {
        throw new Error(`${where}[${i}]: ${String(x)}, expected ${String(y)}`);
      }
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) throw new Error(`${where}: expected a sequence of ${expected.length}`);
    expected.forEach((item, i) => compare(actual[i], item, `${where}[${i}]`));
    return;
  }
  const map = expected as ReadonlyMap<unknown, unknown>;
  if (!(actual instanceof Map) || actual.size !== map.size) throw new Error(`${where}: expected a map of ${map.size}`);
  for (const [k, v] of map) {
    const got = actual.get(k);
    if (typeof v === 'number' ? Math.abs(Number(got) - v) > ATOL + RTOL * Math.abs(v) : got !== v) throw new Error(`${where}[${String(k)}]: ${String(got)}, expected ${String(v)}`);
  }
}

/**
 * ONNX 1.12's data files store bfloat16 tensors as uint16 (the same bits); read them as the model's
 * type says. This is the test data's convention, not a conversion of values.
 */
function asModelType(value: Ort.OnnxValue, meta: Ort.ValueMetadata): Ort.OnnxValue {
  if (value instanceof Tensor && meta.isTensor && meta.type === 'bfloat16' && value.type === 'uint16') {
    return new Tensor('bfloat16', value.data as Uint16Array, value.dims);
  }
  return value;
}

async function runCase(name: string): Promise<void> {
  const dir = join(DATA, name);
  // One thread a session: the suite is a thousand tiny models, and vitest runs other files beside it.
  const session = await InferenceSession.create(join(dir, 'model.onnx'), { intraOpNumThreads: 1 });
  try {
    const sets = readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
    for (const set of sets) {
      const files = readdirSync(join(dir, set));
      const feeds: Record<string, unknown> = {};
      files.filter((f) => f.startsWith('input_')).forEach((f) => {
        const index = Number(f.slice(6, -3));
        feeds[session.inputNames[index]] = asModelType(readValue(readFileSync(join(dir, set, f)), session.inputMetadata[index]), session.inputMetadata[index]);
      });
      const out = (await session.run(feeds as never)) as Record<string, unknown>;
      files.filter((f) => f.startsWith('output_')).forEach((f) => {
        const index = Number(f.slice(7, -3));
        const expected = asModelType(readValue(readFileSync(join(dir, set, f)), session.outputMetadata[index]), session.outputMetadata[index]);
        compare(out[session.outputNames[index]], expected, `${set} output '${session.outputNames[index]}'`);
      });
    }
  } finally {
    await session.release();
  }
}

const tally = { passed: 0, denied: 0 };
afterAll(() => {
  if (cases.length > 0) console.log(`[99.conformance] ${tally.passed} passed, ${tally.denied} denied (conformance/deny.json), of ${cases.length} models run (${all.length} in the data)`);
});

describe.skipIf(cases.length === 0)('ONNX backend test suite', () => {
  test.each(cases)('%s', async (name) => {
    const reason = deny[name];
    const failure = await runCase(name).then(() => undefined, (error: Error) => error);
    if (reason === undefined) {
      if (failure) throw failure;
      tally.passed++;
      return;
    }
    expect(failure, `${name} passes now: remove it from conformance/deny.json (it was denied for: ${reason})`).toBeDefined();
    tally.denied++;
  });
});
