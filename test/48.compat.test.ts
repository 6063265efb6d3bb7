// 48.compat: the differential suite. The same calls of onnxruntime-common's API (written from its
// .d.ts files: Tensor constructors, properties and conversions; InferenceSession.create and run
// overloads; metadata; options and providers; env; errors) made on ort-napi and on onnxruntime-node
// 1.30, each in a child process (test/48.compat-probes.cjs), both on onnxruntime-node's own
// libonnxruntime (ORT_DYLIB_PATH for ours), and what each call gave compared. They agree, call for
// call, but where a difference is listed below with why; where both throw, the messages differ on
// purpose (ours name the parameter, what it must be and what it was).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { addMul, identity } from './support/models.js';

const root = resolve(__dirname, '..');
const core = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', process.arch, 'libonnxruntime.so.1');

type Result = { value: unknown } | { threw: string; message: string };
type Results = Record<string, Result>;
type Seen = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let ours: Results;
let node: Results | undefined;
let missing: string | undefined;

function probe(binding: string, models: string): Results {
  const child = spawnSync(process.execPath, [join(root, 'test', '48.compat-probes.cjs'), binding, models], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ORT_DYLIB_PATH: binding === 'ort-napi' ? core : undefined },
    timeout: 120_000,
  });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout) as Results;
}

beforeAll(() => {
  const models = mkdtempSync(join(tmpdir(), 'ort-napi-compat-'));
  copyFileSync(join(root, 'test', 'fixtures', 'linear.onnx'), join(models, 'linear.onnx'));
  writeFileSync(join(models, 'addmul.onnx'), addMul());
  writeFileSync(join(models, 'fixed.onnx'), identity('float32', [2, 3]));
  writeFileSync(join(models, 'scalar.onnx'), identity('float32', []));
  for (const type of ['string', 'int64', 'bool', 'uint8'] as const) writeFileSync(join(models, `${type}.onnx`), identity(type, ['n']));
  if (!existsSync(core)) {
    missing = `onnxruntime-node's libonnxruntime is not installed (${core})`;
    ours = probe('ort-napi', models);
    return;
  }
  ours = probe('ort-napi', models);
  node = probe('onnxruntime-node', models);
}, 240_000);

const value = (r: Result | undefined): Seen => {
  expect(r, 'the probe ran').toBeDefined();
  expect(r, `it gave a value: ${JSON.stringify(r)}`).toHaveProperty('value');
  return (r as { value: Seen }).value;
};
const threw = (r: Result | undefined): string => {
  expect(r, `it threw: ${JSON.stringify(r)}`).toHaveProperty('threw');
  return (r as { message: string }).message;
};

/**
 * Where ort-napi deliberately differs, and why: each check states what each side gives. Every
 * other call must give the same value, or throw on both sides.
 */
const DIFFERENCES: Record<string, { why: string; check(ours: Result, node: Result, all: { ours: Results; node: Results }): void }> = {
  'tensor error: an empty array infers no type': {
    why: 'ort-napi takes a plain array of numbers as float32 (a superset: onnxruntime-node refuses it)',
    check: (o, n) => {
      expect(value(o).tensor).toMatchObject({ type: 'float32', dims: [0] });
      threw(n);
    },
  },
  'tensor error: numbers alone': {
    why: 'ort-napi takes a plain array of numbers as float32 (a superset: onnxruntime-node refuses it)',
    check: (o, n) => {
      expect(value(o).tensor).toMatchObject({ type: 'float32', dims: [3], data: { array: 'Float32Array', values: [1, 2, 3] } });
      threw(n);
    },
  },
  'tensor: dispose lets go of the data': {
    why: "onnxruntime-common's dispose also sets its GPU fields (gpuTextureData, ...) to undefined, which ort-napi's tensors never have",
    check: (o, n) => {
      const strip = (seen: Seen) => ({ ...seen, t: { ...seen.t, tensor: { ...seen.t.tensor, keys: seen.t.tensor.keys.slice(0, 5), data: Object.keys(seen.t.tensor.data) } } });
      expect(strip(value(o))).toEqual(strip(value(n)));
      expect(value(o).t.tensor.data.message).toMatch(/disposed/);
      expect(value(n).t.tensor.data.message).toMatch(/disposed/);
    },
  },
  'tensor: fromPinnedBuffer': {
    why: "Node.js has no pinned memory: ort-napi's location is 'cpu' (onnxruntime-node says 'cpu-pinned' and runs it as CPU memory)",
    check: (o, n) => {
      expect(value(o).tensor.location).toBe('cpu');
      expect(value(n).tensor.location).toBe('cpu-pinned');
      const same = (seen: Seen) => ({ ...seen.tensor, location: undefined, keys: [...seen.tensor.keys].sort() });
      expect(same(value(o))).toEqual(same(value(n)));
    },
  },
  'tensor: fromImage({ data, width, height }) with no ImageData class': {
    why: "Node.js has no ImageData: ort-napi takes ImageData-like pixels (as sharp's raw output gives them) and computes what onnxruntime-common computes from an ImageData; onnxruntime-node refuses them",
    check: (o, n, all) => {
      threw(n);
      expect(value(o)).toEqual(value(all.node['tensor: fromImage(ImageData) where a global ImageData exists']));
    },
  },
  'create: (SharedArrayBuffer)': {
    why: "onnxruntime-common's create takes any ArrayBufferLike; onnxruntime-node's binding refuses a SharedArrayBuffer, ort-napi reads it",
    check: (o, n) => {
      expect(value(o)).toEqual({ inputNames: ['x'], outputNames: ['y'] });
      threw(n);
    },
  },
  'options error: an unknown option': {
    why: "a session option ort-napi does not know is refused by name, so a typo ('graphOptimisationLevel') fails loudly; onnxruntime-node ignores it. Every option in onnxruntime-common's SessionOptions is known",
    check: (o, n) => {
      expect(threw(o)).toMatch(/^session options has an unknown option 'graphOptimisationLevel' \(known: /);
      expect(value(n)).toEqual({ inputNames: ['x'], outputNames: ['y'] });
    },
  },
  'options: freeDimensionOverrides': {
    why: "ort-napi's metadata is ONNX Runtime's view of the session, where an overridden dim is fixed; onnxruntime-node reports the model's name for it",
    check: (o, n) => {
      expect(value(o)).toEqual([{ name: 'x', isTensor: true, type: 'float32', shape: [2, 3] }]);
      expect(value(n)).toEqual([{ name: 'x', isTensor: true, type: 'float32', shape: ['batch', 3] }]);
    },
  },
  "providers: ['webgpu', 'cpu']": {
    why: 'a provider named alone that cannot start here (no WebGPU adapter) is skipped with a warning in the log, and the next one is used; onnxruntime-node fails the create',
    check: (o, n) => {
      expect(value(o)).toEqual({ inputNames: ['x'], outputNames: ['y'] });
      threw(n);
    },
  },
  "providers: ['wasm'] (a web backend)": {
    why: 'a provider named alone that this core lacks is skipped with a warning and the CPU provider runs the session; onnxruntime-node finds no backend',
    check: (o, n) => {
      expect(value(o)).toEqual({ inputNames: ['x'], outputNames: ['y'] });
      threw(n);
    },
  },
  'run: release twice': {
    why: "ort-napi's release() is idempotent (a second call resolves: cleanup code need not track it); onnxruntime-node's second release rejects",
    check: (o, n) => {
      expect(value(o)).toEqual({ undefined: true });
      threw(n);
    },
  },
  'run: (feeds, { name: preallocated })': {
    why: "a preallocated output comes back as the caller's own Tensor (onnxruntime-node returns another Tensor over a copy); both write the caller's",
    check: (o, n) => {
      expect(value(o).same).toBe(true);
      expect(value(n).same).toBe(false);
      expect({ ...value(o), same: undefined }).toEqual({ ...value(n), same: undefined });
    },
  },
};

const AREAS: [string, RegExp][] = [
  ['Tensor constructors', /^tensor(?: error)?: \(|^tensor error: (?!reshape)/],
  ['Tensor properties and conversions', /^tensor: (?!\()|^tensor error: reshape/],
  ['InferenceSession.create overloads', /^create/],
  ['options and providers', /^options|^providers|^listSupportedBackends/],
  ['metadata', /^metadata/],
  ['run overloads', /^run/],
  ['env and exports', /^env|^exports/],
];

describe('ort-napi and onnxruntime-node 1.30 give the same results for the same calls', () => {
  test('every probe belongs to an area, and both sides ran them all', () => {
    const names = Object.keys(ours);
    expect(names.length).toBeGreaterThan(100); // as the README says
    for (const name of names) expect(AREAS.filter(([, pattern]) => pattern.test(name)).map(([area]) => area), name).toHaveLength(1);
    for (const name of Object.keys(DIFFERENCES)) expect(names).toContain(name);
    if (node) expect(Object.keys(node)).toEqual(names);
  });

  test.for(AREAS)('%s', ([, pattern], ctx) => {
    if (!node) {
      console.log(`skipping the side-by-side comparison: ${missing}`);
      ctx.skip();
      return;
    }
    const names = Object.keys(ours).filter((name) => pattern.test(name));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const o = ours[name];
      const n = node[name];
      const difference = DIFFERENCES[name];
      if (difference) {
        try {
          difference.check(o, n, { ours, node });
        } catch (error) {
          (error as Error).message = `${name} (a deliberate difference: ${difference.why}): ${(error as Error).message}`;
          throw error;
        }
      } else if ('threw' in n) {
        expect(o, `${name}: onnxruntime-node threw (${n.message}); ort-napi must too`).toHaveProperty('threw');
      } else {
        expect(o, name).toEqual(n);
      }
    }
  });
});

test('where both throw, ort-napi says what was wrong: the parameter, what it must be, what it was', () => {
  expect(threw(ours['tensor error: unknown type'])).toMatch(/^Tensor type must be one of float32, .*; received the string "float33"$/);
  expect(threw(ours['tensor error: size does not match dims'])).toBe('Tensor data has 3 elements but dims [2,2] need 4');
  expect(threw(ours['create error: a number'])).toBe('model must be a file path, a Uint8Array or an ArrayBuffer; received number 42');
  expect(threw(ours['run error: a missing input'])).toBe("feeds is missing input 'b'");
  expect(threw(ours['run error: another element type'])).toBe("input 'x' has element type 'float64', but the model expects 'float32'");
  expect(threw(ours['run error: a fixed dim differs'])).toBe("input 'x' has dims[1] = 4, but the model fixes it at 3 (model shape [batch,3])");
  expect(threw(ours['tensor: toImageData without a canvas'])).toMatch(/^Tensor.toImageData needs a canvas .*OffscreenCanvas is not defined$/);
  expect(ours['tensor: toImageData without a canvas']).toMatchObject({ threw: 'ReferenceError' }); // onnxruntime-node's class
  expect(threw(ours['tensor: fromImage(url) without a canvas'])).toMatch(/^Tensor.fromImage\(url\) needs a canvas and an Image/);
  // The classes say what went wrong, where onnxruntime-node throws Error.
  expect(ours['run error: a missing input']).toMatchObject({ threw: 'TypeError' });
  expect(ours['run error: a fixed dim differs']).toMatchObject({ threw: 'RangeError' });
  expect(ours['create error: bytes that are no model']).toMatchObject({ threw: 'OrtError' });
  expect(ours['run error: after release']).toMatchObject({ threw: 'ReleasedError' });
  if (node) for (const name of ['run error: a missing input', 'run error: a fixed dim differs', 'create error: bytes that are no model', 'run error: after release']) expect(node[name]).toMatchObject({ threw: 'Error' });
});

test("float16 data: a Uint16Array of bit patterns on ort-napi; onnxruntime-node's is a Float16Array where the runtime has one", (ctx) => {
  if (!node) {
    console.log(`skipping the side-by-side float16 case: ${missing}`);
    ctx.skip();
    return;
  }
  // Node.js 20 has no Float16Array: a stand-in shows what onnxruntime-common does where one exists.
  const script = (binding: string) => `
    globalThis.Float16Array = class Float16Array extends Uint16Array {};
    const ort = require(${JSON.stringify(binding)});
    const t = new ort.Tensor('float16', new Uint16Array([0x3c00]));
    console.log(t.data.constructor.name);`;
  const run = (binding: string) =>
    spawnSync(process.execPath, ['-e', script(binding)], { cwd: root, encoding: 'utf8', env: { ...process.env, ORT_DYLIB_PATH: binding === 'ort-napi' ? core : undefined } }).stdout.trim();
  expect(run('onnxruntime-node')).toBe('Float16Array');
  expect(run('ort-napi')).toBe('Uint16Array');
});
