// 48.compat-probes: the calls test/48.compat.test.ts makes of onnxruntime-common's API, run in a
// child process against one binding (`node 48.compat-probes.cjs <ort-napi | onnxruntime-node> <models dir>`):
// the same code for both, written from onnxruntime-common's .d.ts files; prints what each call gave
// as JSON (a value, or the error it threw).
'use strict';
const { join } = require('node:path');
const { readFileSync } = require('node:fs');

const [binding, models] = process.argv.slice(2);
const ort = require(binding);
const common = require('onnxruntime-common');
const model = (name) => join(models, name);
const bytes = (name) => readFileSync(model(name));
const f32 = (...values) => new Float32Array(values);

/** A JSON-friendly picture of a value: tensors by their observable properties, typed arrays by class and values. */
function show(value, depth = 0) {
  if (value === undefined) return { undefined: true };
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return { bigint: String(value) };
  if (typeof value === 'function') return { function: true };
  if (ArrayBuffer.isView(value)) return { array: value.constructor.name, values: Array.from(value, (v) => (typeof v === 'bigint' ? String(v) : v)) };
  if (value instanceof Error) return { threw: value.constructor.name, message: value.message };
  if (depth > 3) return { deep: true };
  if (Array.isArray(value)) return value.map((v) => show(v, depth + 1));
  if (typeof value.type === 'string' && Array.isArray(value.dims) && 'location' in value) {
    let data;
    try {
      data = show(value.data, depth + 1);
    } catch (error) {
      data = show(error);
    }
    return {
      tensor: {
        type: value.type,
        dims: Array.from(value.dims),
        size: value.size,
        location: value.location,
        data,
        keys: Object.keys(value),
        commonTensor: value instanceof common.Tensor,
        bindingTensor: value instanceof ort.Tensor,
      },
    };
  }
  const out = {};
  for (const key of Object.keys(value)) out[key] = show(value[key], depth + 1);
  return out;
}

/** Installs test stand-ins for the browser's ImageData and OffscreenCanvas (pixels kept as given) while `fn` runs. */
async function withFakeCanvas(fn, canvas = true) {
  globalThis.ImageData = class ImageData {
    constructor(data, width, height) {
      Object.assign(this, { data, width, height });
    }
  };
  if (canvas) {
    globalThis.OffscreenCanvas = class OffscreenCanvas {
      constructor(width, height) {
        Object.assign(this, { width, height, drawn: [] });
      }
      getContext() {
        const canvas = this;
        return {
          putImageData(image) {
            canvas.pixels = Uint8ClampedArray.from(image.data);
          },
          getImageData(x, y, width, height) {
            return new ImageData(canvas.pixels.slice(0, width * height * 4), width, height);
          },
          createImageData(width, height) {
            return new ImageData(new Uint8ClampedArray(width * height * 4), width, height);
          },
          set fillStyle(style) {
            canvas.style = style;
          },
          fillRect(x, y) {
            canvas.drawn.push(`${x},${y}:${canvas.style}`);
          },
        };
      }
      toDataURL() {
        return `fake:${this.width}x${this.height}:${this.drawn.join(';')}`;
      }
    };
  }
  try {
    return await fn();
  } finally {
    delete globalThis.ImageData;
    delete globalThis.OffscreenCanvas;
  }
}

const linearFeeds = () => ({ x: new ort.Tensor('float32', f32(1, 2, 3, 4, 5, 6), [2, 3]) });
const session = (name = 'linear.onnx', options) => ort.InferenceSession.create(model(name), options);
const names = (s) => ({ inputNames: s.inputNames, outputNames: s.outputNames });
const pixels = () => Uint8ClampedArray.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);

const probes = {
  // --- Tensor constructors ---------------------------------------------------------------
  'tensor: (type, Float32Array, dims)': () => new ort.Tensor('float32', f32(1, 2, 3, 4), [2, 2]),
  'tensor: (type, number[], dims) float32': () => new ort.Tensor('float32', [1.5, 2, 3, 4], [4, 1]),
  'tensor: (type, number[]) int32, dims omitted': () => new ort.Tensor('int32', [1, -2, 3]),
  'tensor: (type, number[]) int64': () => new ort.Tensor('int64', [1, -2, 3]),
  'tensor: (type, bigint[]) int64': () => new ort.Tensor('int64', [1n, -2n]),
  'tensor: (type, number[]) uint64': () => new ort.Tensor('uint64', [1, 2]),
  'tensor: (type, number[]) float64, uint8, int8, uint16, int16, uint32': () =>
    ['float64', 'uint8', 'int8', 'uint16', 'int16', 'uint32'].map((type) => new ort.Tensor(type, [1, 2, 250])),
  'tensor: (type, boolean[]) bool': () => new ort.Tensor('bool', [true, false, true]),
  'tensor: (type, Uint8Array) bool': () => new ort.Tensor('bool', new Uint8Array([1, 0])),
  'tensor: (type, string[]) string': () => new ort.Tensor('string', ['a', 'bc', ''], [3]),
  'tensor: (TypedArray) infers each numeric type': () =>
    [new Float32Array(1), new Float64Array(1), new Int8Array(1), new Uint8Array(1), new Int16Array(1), new Uint16Array(1), new Int32Array(1), new Uint32Array(1), new BigInt64Array(1), new BigUint64Array(1)].map(
      (data) => new ort.Tensor(data),
    ),
  'tensor: (TypedArray, dims)': () => new ort.Tensor(new Int32Array([1, 2, 3, 4, 5, 6]), [3, 2]),
  'tensor: (boolean[]) and (string[])': () => [new ort.Tensor([true, false]), new ort.Tensor(['x', 'y'], [1, 2])],
  'tensor: (Uint8ClampedArray) and (uint8, Uint8ClampedArray)': () => [new ort.Tensor(new Uint8ClampedArray([1, 300])), new ort.Tensor('uint8', new Uint8ClampedArray([7, 8]), [2, 1])],
  'tensor: scalar dims [] and an empty tensor': () => [new ort.Tensor('float32', f32(7), []), new ort.Tensor('float32', f32(), [0, 3])],
  'tensor: (uint8 as Uint16Array for float16)': () => new ort.Tensor('float16', new Uint16Array([0x3c00, 0x4000])),
  'tensor: (int4 / uint4, packed Uint8Array, odd size)': () => [new ort.Tensor('int4', new Uint8Array([0x21, 0x03]), [3]), new ort.Tensor('uint4', new Uint8Array([0xff]), [2])],
  'tensor error: unknown type': () => new ort.Tensor('float33', f32(1)),
  'tensor error: data of another type': () => new ort.Tensor('float32', new Float64Array(1)),
  'tensor error: int64 from Int32Array': () => new ort.Tensor('int64', new Int32Array(1)),
  'tensor error: size does not match dims': () => new ort.Tensor('float32', f32(1, 2, 3), [2, 2]),
  'tensor error: dims not an array': () => new ort.Tensor('float32', f32(1, 2), '2'),
  'tensor error: negative dim': () => new ort.Tensor('float32', f32(), [-1]),
  'tensor error: fractional dim': () => new ort.Tensor('float32', f32(1, 2), [2.5]),
  'tensor error: an empty array infers no type': () => new ort.Tensor([]),
  'tensor error: numbers alone': () => new ort.Tensor([1, 2, 3]),
  'tensor error: float16 from numbers': () => new ort.Tensor('float16', [1.5]),
  'tensor error: int4 from numbers': () => new ort.Tensor('int4', [1, 2]),
  'tensor error: string data not an array': () => new ort.Tensor('string', 'abc'),
  'tensor error: int8 from Uint8ClampedArray': () => new ort.Tensor('int8', new Uint8ClampedArray(2)),
  'tensor error: data an object': () => new ort.Tensor({}),

  // --- Tensor properties and conversions ---------------------------------------------------
  'tensor: own keys, spread, Object.assign copies': () => {
    const data = f32(1, 2);
    const t = new ort.Tensor('float32', data, [2]);
    const copy = Object.assign(Object.create(Object.getPrototypeOf(t)), t);
    const plain = { ...t };
    return { keys: Object.keys(t), plainKeys: Object.keys(plain), plainCpuDataIsData: plain.cpuData === data, copy, copyDataIsData: copy.data === data, location: typeof t.location, dataLocation: t.dataLocation };
  },
  'tensor: JSON, util.inspect and structuredClone': () => {
    const t = new ort.Tensor('int32', new Int32Array([1, 2]), [2]);
    const cloned = structuredClone(t);
    return { json: JSON.stringify(t), inspect: require('node:util').inspect(t), cloned: { keys: Object.keys(cloned), data: show(cloned.cpuData), dims: cloned.dims } };
  },
  'tensor: instanceof both ways': () => ({
    oursIsCommon: new ort.Tensor('float32', f32(1)) instanceof common.Tensor,
    commonIsOurs: new common.Tensor('float32', f32(1)) instanceof ort.Tensor,
    copyIsOurs: Object.assign(Object.create(common.Tensor.prototype), new common.Tensor('int32', new Int32Array(1))) instanceof ort.Tensor,
    plainIsOurs: { type: 'float32', data: f32(1), dims: [1], location: 'cpu' } instanceof ort.Tensor,
  }),
  'tensor: reshape shares data': () => {
    const t = new ort.Tensor('int8', new Int8Array(6), [2, 3]);
    const r = t.reshape([3, 2]);
    return { r, shares: r.data === t.data };
  },
  'tensor error: reshape to another size': () => new ort.Tensor('int8', new Int8Array(6), [2, 3]).reshape([4, 2]),
  'tensor: getData() is the data itself': async () => {
    const t = new ort.Tensor('float32', f32(1, 2));
    return (await t.getData()) === t.data;
  },
  'tensor: dispose lets go of the data': async () => {
    const data = f32(1, 2);
    const t = new ort.Tensor('float32', data);
    t.dispose();
    return { t, cpuData: show(t.cpuData), keys: Object.keys(t).slice(0, 5), dataKept: Array.from(data), getData: await t.getData().then(show, (e) => ({ threw: e instanceof Error })) };
  },
  'tensor: fromPinnedBuffer': () => ort.Tensor.fromPinnedBuffer('float32', f32(1, 2, 3, 4), [2, 2]),
  'tensor: texture and gpuBuffer of a CPU tensor': () => {
    const t = new ort.Tensor('float32', f32(1));
    const get = (k) => {
      try {
        return t[k];
      } catch (error) {
        return error;
      }
    };
    return [get('texture'), get('gpuBuffer'), get('mlTensor')];
  },
  'tensor: toImageData without a canvas': () => new ort.Tensor('float32', new Float32Array(12), [1, 3, 2, 2]).toImageData(),
  'tensor: toDataURL without a canvas': () => new ort.Tensor('float32', new Float32Array(12), [1, 3, 2, 2]).toDataURL(),
  'tensor: fromImage(url) without a canvas': () => ort.Tensor.fromImage('https://example.com/a.png'),
  'tensor: fromImage(raw bytes)': () => ort.Tensor.fromImage(new Uint8Array(24)),
  'tensor: fromImage({ data, width, height }) with no ImageData class': () => ort.Tensor.fromImage({ data: pixels(), width: 3, height: 2 }),
  'tensor: fromImage(ImageData) where a global ImageData exists': () => withFakeCanvas(() => ort.Tensor.fromImage(new ImageData(pixels(), 3, 2)), false),
  'tensor: fromImage(ImageData, options) with a canvas': () =>
    withFakeCanvas(async () => [
      await ort.Tensor.fromImage(new ImageData(pixels(), 3, 2), { tensorFormat: 'BGR', norm: { mean: [1, 2, 4], bias: [-1, 0, 1] } }),
      await ort.Tensor.fromImage(new ImageData(pixels(), 3, 2), { tensorFormat: 'RGBA', norm: { mean: 255, bias: 0 } }),
      await ort.Tensor.fromImage(new ImageData(pixels(), 3, 2), { tensorFormat: 'RBG', norm: { mean: [2, 2, 2, 2], bias: [0, 0, 0, 0] }, resizedWidth: 3, resizedHeight: 2 }),
    ]),
  'tensor: fromImage(ImageData, NHWC) with a canvas': () => withFakeCanvas(() => ort.Tensor.fromImage(new ImageData(pixels(), 3, 2), { tensorLayout: 'NHWC', norm: { mean: 1, bias: 0 } })),
  'tensor: toImageData and toDataURL with a canvas': () =>
    withFakeCanvas(() => {
      const t = new ort.Tensor('float32', Float32Array.from({ length: 12 }, (_, i) => i / 12), [1, 3, 2, 2]);
      const rgba = new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => i / 16), [1, 4, 2, 2]);
      return [t.toImageData(), rgba.toImageData({ format: 'RGBA' }), t.toImageData({ norm: { mean: 100, bias: 0.5 } }), t.toDataURL()];
    }),

  // --- InferenceSession.create overloads ----------------------------------------------------
  'create: (path)': async () => names(await session()),
  'create: (path, options)': async () =>
    names(
      await session('linear.onnx', {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'extended',
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        enableCpuMemArena: false,
        enableMemPattern: false,
        logSeverityLevel: 3,
        logVerbosityLevel: 0,
        logId: 'probe',
      }),
    ),
  'create: (Uint8Array)': async () => names(await ort.InferenceSession.create(new Uint8Array(bytes('linear.onnx')))),
  'create: (Buffer, options)': async () => names(await ort.InferenceSession.create(bytes('linear.onnx'), { graphOptimizationLevel: 'disabled' })),
  'create: (ArrayBuffer)': async () => {
    const b = bytes('linear.onnx');
    return names(await ort.InferenceSession.create(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  },
  'create: (ArrayBuffer, byteOffset, byteLength, options)': async () => {
    const b = bytes('linear.onnx');
    const buffer = new ArrayBuffer(b.length + 24);
    new Uint8Array(buffer).set(b, 16);
    return names(await ort.InferenceSession.create(buffer, 16, b.length, { logSeverityLevel: 3 }));
  },
  'create: (ArrayBuffer, byteOffset) to the end': async () => {
    const b = bytes('linear.onnx');
    const buffer = new ArrayBuffer(b.length + 8);
    new Uint8Array(buffer).set(b, 8);
    return names(await ort.InferenceSession.create(buffer, 8));
  },
  'create: (SharedArrayBuffer)': async () => {
    const b = bytes('linear.onnx');
    const shared = new SharedArrayBuffer(b.length);
    new Uint8Array(shared).set(b);
    return names(await ort.InferenceSession.create(shared));
  },
  'create error: a missing file': () => ort.InferenceSession.create(model('missing.onnx')),
  'create error: bytes that are no model': () => ort.InferenceSession.create(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])),
  'create error: a number': () => ort.InferenceSession.create(42),
  'create error: byteOffset past the end': () => ort.InferenceSession.create(new ArrayBuffer(8), 9),
  'create error: byteLength past the end': () => ort.InferenceSession.create(new ArrayBuffer(8), 0, 9),

  // --- options and providers ----------------------------------------------------------------
  'options: extra session config entries': async () => names(await session('linear.onnx', { extra: { session: { use_ort_model_bytes_directly: '1' } } })),
  'options: freeDimensionOverrides': async () => (await session('linear.onnx', { freeDimensionOverrides: { batch: 2 } })).inputMetadata.map(({ name, isTensor, type, shape }) => ({ name, isTensor, type, shape })),
  'options: preferredOutputLocation cpu': async () => names(await session('linear.onnx', { preferredOutputLocation: 'cpu' })),
  'options: enableProfiling false': async () => names(await session('linear.onnx', { enableProfiling: false })),
  'options: graphOptimizationLevel each': async () => {
    const out = [];
    for (const level of ['disabled', 'basic', 'extended', 'all']) out.push(names(await session('linear.onnx', { graphOptimizationLevel: level })));
    return out;
  },
  'options: executionMode parallel': async () => names(await session('linear.onnx', { executionMode: 'parallel', interOpNumThreads: 2 })),
  'options error: an unknown option': async () => names(await session('linear.onnx', { graphOptimisationLevel: 'all' })),
  'options error: logSeverityLevel 5': async () => names(await session('linear.onnx', { logSeverityLevel: 5 })),
  'options error: an unknown graphOptimizationLevel': async () => names(await session('linear.onnx', { graphOptimizationLevel: 'max' })),
  'options error: an unknown executionMode': async () => names(await session('linear.onnx', { executionMode: 'fast' })),
  'options error: intraOpNumThreads -1': async () => names(await session('linear.onnx', { intraOpNumThreads: -1 })),
  'options error: options not an object': async () => names(await session('linear.onnx', 'fast')),
  "providers error: an unknown provider object": async () => names(await session('linear.onnx', { executionProviders: [{ name: 'nonesuch' }] })),
  "providers: ['cpu']": async () => names(await session('linear.onnx', { executionProviders: ['cpu'] })),
  "providers: [{ name: 'cpu' }]": async () => names(await session('linear.onnx', { executionProviders: [{ name: 'cpu' }] })),
  "providers: [{ name: 'cpu', useArena: false }]": async () => names(await session('linear.onnx', { executionProviders: [{ name: 'cpu', useArena: false }] })),
  "providers: ['xnnpack', 'cpu'] (xnnpack not in this core)": async () => names(await session('linear.onnx', { executionProviders: ['xnnpack', 'cpu'] })),
  "providers: ['webgpu', 'cpu']": async () => names(await session('linear.onnx', { executionProviders: ['webgpu', 'cpu'] })),
  "providers: ['wasm'] (a web backend)": async () => names(await session('linear.onnx', { executionProviders: ['wasm'] })),
  'listSupportedBackends names cpu and cuda': () => {
    const backends = ort.listSupportedBackends();
    return { cpu: backends.find((b) => b.name === 'cpu'), cuda: !!backends.find((b) => b.name === 'cuda') };
  },

  // --- metadata -------------------------------------------------------------------------------
  'metadata: names and input/output metadata': async () => {
    const s = await session('addmul.onnx');
    const meta = (list) => list.map(({ name, isTensor, type, shape }) => ({ name, isTensor, type, shape }));
    return { ...names(s), inputMetadata: meta(s.inputMetadata), outputMetadata: meta(s.outputMetadata) };
  },
  'metadata: fixed, symbolic and scalar dims': async () => {
    const meta = (s) => s.inputMetadata.map(({ name, isTensor, type, shape }) => ({ name, isTensor, type, shape }));
    return [meta(await session('fixed.onnx')), meta(await session('scalar.onnx')), meta(await session('string.onnx'))];
  },

  // --- run overloads ----------------------------------------------------------------------------
  'run: (feeds)': async () => (await session()).run(linearFeeds()),
  'run: (feeds, options)': async () => (await session()).run(linearFeeds(), { logSeverityLevel: 3, logVerbosityLevel: 0, tag: 'probe' }),
  'run: (feeds, fetches[])': async () => (await session('addmul.onnx')).run({ a: new ort.Tensor(f32(1, 2, 3), [1, 3]), b: new ort.Tensor(f32(4, 5, 6), [1, 3]) }, ['product']),
  'run: (feeds, fetches[], options)': async () => (await session('addmul.onnx')).run({ a: new ort.Tensor(f32(1, 2, 3), [1, 3]), b: new ort.Tensor(f32(4, 5, 6), [1, 3]) }, ['sum', 'product'], { tag: 'probe' }),
  'run: (feeds, { name: null })': async () => (await session('addmul.onnx')).run({ a: new ort.Tensor(f32(1, 2, 3), [1, 3]), b: new ort.Tensor(f32(4, 5, 6), [1, 3]) }, { sum: null }),
  'run: (feeds, { name: preallocated })': async () => {
    const into = new ort.Tensor('float32', new Float32Array(4), [2, 2]);
    const out = await (await session()).run(linearFeeds(), { y: into });
    return { out, written: Array.from(into.data), same: out.y === into };
  },
  'run: (feeds, { extra: run config entries })': async () => (await session()).run(linearFeeds(), { extra: { memory: { enable_memory_arena_shrinkage: 'cpu:0' } } }),
  'run: (feeds, { unknown: 1 }) is options': async () => (await session()).run(linearFeeds(), { logSeverityLevel: 3 }),
  'run: a feed the model does not take is ignored': async () => (await session()).run({ ...linearFeeds(), extra: new ort.Tensor(f32(1)) }),
  'run: types round-trip (int64, bool, string, uint8)': async () => [
    await (await session('int64.onnx')).run({ x: new ort.Tensor('int64', [1n, -2n]) }),
    await (await session('bool.onnx')).run({ x: new ort.Tensor('bool', [true, false]) }),
    await (await session('string.onnx')).run({ x: new ort.Tensor('string', ['héllo', '']) }),
    await (await session('uint8.onnx')).run({ x: new ort.Tensor(new Uint8ClampedArray([1, 2])) }),
  ],
  'run: a declared scalar fed as [1]': async () => (await session('scalar.onnx')).run({ x: new ort.Tensor('float32', f32(3), [1]) }),
  "run: onnxruntime-common's own Tensor as a feed": async () => (await session()).run({ x: new common.Tensor('float32', f32(1, 2, 3), [1, 3]) }),
  'run: an Object.assign copy of a tensor as a feed': async () => {
    const x = linearFeeds().x;
    return (await session()).run({ x: Object.assign(Object.create(Object.getPrototypeOf(x)), x) });
  },
  'run: a spread copy of a tensor as a feed': async () => (await session()).run({ x: { ...linearFeeds().x } }),
  'run: a disposed tensor as a feed': async () => {
    const { x } = linearFeeds();
    x.dispose();
    return (await session()).run({ x });
  },
  'run: concurrent runs': async () => {
    const s = await session();
    return Promise.all([1, 2, 3].map((k) => s.run({ x: new ort.Tensor('float32', f32(k, k, k), [1, 3]) })));
  },
  'run error: a missing input': async () => (await session('addmul.onnx')).run({ a: new ort.Tensor(f32(1, 2, 3), [1, 3]) }),
  'run error: another element type': async () => (await session()).run({ x: new ort.Tensor('float64', new Float64Array(3), [1, 3]) }),
  'run error: a fixed dim differs': async () => (await session()).run({ x: new ort.Tensor('float32', f32(1, 2, 3, 4), [1, 4]) }),
  'run error: another rank': async () => (await session()).run({ x: new ort.Tensor('float32', f32(1, 2, 3), [3]) }),
  'run error: an unknown fetch': async () => (await session()).run(linearFeeds(), ['nope']),
  'run error: feeds a Tensor': async () => (await session()).run(new ort.Tensor('float32', f32(1, 2, 3), [1, 3])),
  'run error: feeds null': async () => (await session()).run(null),
  'run error: fetches a Tensor': async () => (await session()).run(linearFeeds(), new ort.Tensor('float32', f32(1))),
  'run error: fetches empty': async () => (await session()).run(linearFeeds(), []),
  'run error: options not an object': async () => (await session()).run(linearFeeds(), ['y'], 'fast'),
  'run: startProfiling and endProfiling on a session made without enableProfiling': async () => {
    const s = await session();
    const start = s.startProfiling();
    s.endProfiling();
    return { start: show(start), runs: await s.run(linearFeeds()) };
  },
  'run: release twice': async () => {
    const s = await session();
    await s.release();
    return show(await s.release());
  },
  'run error: after release': async () => {
    const s = await session();
    await s.release();
    return s.run(linearFeeds());
  },

  // --- env --------------------------------------------------------------------------------------
  'env: logLevel reads and sets': () => {
    const before = ort.env.logLevel;
    ort.env.logLevel = 'error';
    const after = ort.env.logLevel;
    ort.env.logLevel = before;
    return { before, after };
  },
  'env: versions.common and versions.node are strings': () => ({ common: ort.env.versions.common, node: typeof ort.env.versions.node }),
  'env: web settings exist and are settable': () => {
    ort.env.wasm.numThreads = 1;
    ort.env.webgpu.powerPreference = 'low-power';
    return { wasmThreads: ort.env.wasm.numThreads, webgl: typeof ort.env.webgl, webgpu: ort.env.webgpu.powerPreference };
  },
  'env: debug and trace are settable': () => {
    ort.env.debug = false;
    ort.env.trace = false;
    return { debug: ort.env.debug, trace: ort.env.trace };
  },
  "exports: onnxruntime-common's names": () => Object.fromEntries(Object.keys(common).sort().map((name) => [name, typeof ort[name]])),
};

(async () => {
  const results = {};
  for (const [name, probe] of Object.entries(probes)) {
    try {
      results[name] = { value: show(await probe()) };
    } catch (error) {
      results[name] = { threw: error instanceof Error ? error.constructor.name : typeof error, message: error instanceof Error ? error.message : String(error) };
    }
  }
  process.stdout.write(JSON.stringify(results));
})();
