// 10.tensor: the Tensor constructor's forms, type inference, and its errors.
import { describe, expect, test } from 'vitest';
import { createRequire } from 'node:module';
import { identity } from './support/models.js';
import { InferenceSession, Tensor, type Ort } from './support/ort.js';

const require = createRequire(import.meta.url);
const common = require('onnxruntime-common') as typeof import('onnxruntime-common');

describe('Tensor', () => {
  test('keeps the given TypedArray itself, not a copy', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const t = new Tensor('float32', data, [2, 2]);
    expect(t.data).toBe(data);
    expect(t.dims).toEqual([2, 2]);
    expect(t.size).toBe(4);
    expect(t.type).toBe('float32');
    expect(t.location).toBe('cpu');
  });

  test('infers the type from the TypedArray and the dims from its length', () => {
    expect(new Tensor(new Int32Array(3)).type).toBe('int32');
    expect(new Tensor(new BigInt64Array(3)).dims).toEqual([3]);
    expect(new Tensor(new BigUint64Array(1)).type).toBe('uint64');
    expect(new Tensor(['a', 'b']).type).toBe('string');
    expect(new Tensor([true, false]).type).toBe('bool');
  });

  test('converts plain arrays into the typed array of the element type', () => {
    expect(new Tensor('int64', [1, 2, -3]).data).toEqual(new BigInt64Array([1n, 2n, -3n]));
    expect(new Tensor('bool', [true, false, true] as never).data).toEqual(new Uint8Array([1, 0, 1]));
    expect(new Tensor('float64', [0.5], [1, 1]).data).toEqual(new Float64Array([0.5]));
  });

  test('a scalar has dims [] and size 1; a dim of 0 makes an empty tensor', () => {
    const scalar = new Tensor('float32', new Float32Array([7]), []);
    expect(scalar.size).toBe(1);
    expect(new Tensor('float32', new Float32Array(0), [3, 0]).size).toBe(0);
  });

  test('dims are copied and frozen', () => {
    const dims = [2, 2];
    const t = new Tensor('float32', new Float32Array(4), dims);
    dims[0] = 4;
    expect(t.dims).toEqual([2, 2]);
    expect(Object.isFrozen(t.dims)).toBe(true);
  });

  test('reshape shares the data', () => {
    const t = new Tensor('int8', new Int8Array(6), [2, 3]);
    const r = t.reshape([3, 2]);
    expect(r.data).toBe(t.data);
    expect(r.dims).toEqual([3, 2]);
    expect(() => t.reshape([4, 2])).toThrow(RangeError);
  });

  test.each([
    [() => new Tensor('float33' as never, new Float32Array(1) as never), TypeError, "Tensor type must be one of float32"],
    [() => new Tensor('float32', new Float64Array(1) as never), TypeError, "Tensor data of type 'float32' must be a Float32Array or an array; received a Float64Array of length 1"],
    [() => new Tensor('int64', new Int32Array(1) as never), TypeError, "must be a BigInt64Array"],
    [() => new Tensor('float32', new Float32Array(6), [2, 2]), RangeError, 'Tensor data has 6 elements but dims [2,2] need 4'],
    [() => new Tensor('float32', new Float32Array(2), [-1, -2]), RangeError, 'Tensor dims[0] must be a non-negative integer; received number -1'],
    [() => new Tensor('float32', new Float32Array(2), [2.5]), RangeError, 'Tensor dims[0] must be a non-negative integer; received number 2.5'],
    [() => new Tensor('float32', new Float32Array(2), '2' as never), TypeError, 'Tensor dims must be an array'],
    [() => new Tensor('string', ['a', 3] as never), TypeError, "Tensor data[1] of type 'string' must be a string; received number 3"],
    [() => new Tensor({} as never), TypeError, 'Tensor data must be a TypedArray or an array'],
  ])('%#: bad arguments are named', (make, kind, message) => {
    expect(make).toThrow(kind);
    expect(make).toThrow(message);
  });

  test('Tensor.allocate makes zeros in CPU memory, and refuses what it cannot make by name', () => {
    const t = Tensor.allocate('float32', [2, 3]);
    expect(t.location).toBe('cpu');
    expect(t.data).toEqual(new Float32Array(6));
    expect(Tensor.allocate('int64', [2], { device: 'cpu' }).data).toEqual(new BigInt64Array(2));
    expect(() => Tensor.allocate('string' as never, [1])).toThrow('Tensor.allocate type must be a numeric element type');
    expect(() => Tensor.allocate('float32', [-1])).toThrow('Tensor dims[0] must be a non-negative integer');
    expect(() => Tensor.allocate('float32', [1], { device: 'tpu' as never })).toThrow("Tensor.allocate options.device must be 'cpu' or 'cuda'");
    expect(() => Tensor.allocate('float32', [1], { device: 'cuda', deviceId: -1 })).toThrow('Tensor.allocate options.deviceId must be a non-negative integer');
  });

  test('Tensor.allocate on CUDA without a CUDA provider says what to install', () => {
    // (On a CPU-only core it is refused outright: test/27 runs that case on one.)
    let error: (Error & { code?: string }) | undefined;
    try {
      Tensor.allocate('float32', [4], { device: 'cuda' });
    } catch (e) {
      error = e as Error;
    }
    if (error === undefined) {
      console.log('skipping the missing-CUDA-provider case of Tensor.allocate: this machine has CUDA and its provider');
      return;
    }
    expect(error.code).toBe('EP_FAIL');
    expect(error.message).toContain('install com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9');
  });

  test("a tensor's own properties are onnxruntime-common's, so spreads and Object.assign copies carry the data", () => {
    const data = new Float32Array(4);
    const t = new Tensor('float32', data, [2, 2]);
    expect(Object.keys(t)).toEqual(['cpuData', 'dataLocation', 'type', 'dims', 'size']);
    expect({ ...t }).toEqual({ cpuData: data, dataLocation: 'cpu', type: 'float32', dims: [2, 2], size: 4 });
    const copy = Object.assign(Object.create(Tensor.prototype), t) as Ort.Tensor;
    expect(copy).toBeInstanceOf(Tensor);
    expect(copy.data).toBe(data);
    expect(copy.location).toBe('cpu');
    expect(copy.deviceId).toBeUndefined();
    expect(String(copy)).toBe('Tensor(float32, [2,2])');
    expect(t.reshape([4]).dims).toEqual([4]);
  });

  test('dims reassigned after construction (allowed, as in onnxruntime-common) are caught at run time, never read past the data', async () => {
    const session = await InferenceSession.create(identity('float32', ['n']));
    const t = new Tensor('float32', new Float32Array([1, 2, 3, 4]), [4]);
    (t as unknown as { dims: number[] }).dims = [1000];
    await expect(session.run({ x: t })).rejects.toThrow(RangeError);
    await expect(session.run({ x: t })).rejects.toThrow(/input 'x'.*1000/);
    (t as unknown as { dims: number[] }).dims = [4];
    expect(Array.from((await session.run({ x: t })).y.data as Float32Array)).toEqual([1, 2, 3, 4]);
    await session.release();
  });

  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])('the type name %j is no element type', (name) => {
    const make = () => new Tensor(name as never, [1, 2] as never);
    expect(make).toThrow(TypeError);
    expect(make).toThrow(`Tensor type must be one of float32, uint8, int8, uint16, int16, int32, int64, string, bool, float16, float64, uint32, uint64, bfloat16, float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz, uint4, int4; received the string ${JSON.stringify(name)}`);
    const allocate = () => Tensor.allocate(name as never, [2]);
    expect(allocate).toThrow(TypeError);
    expect(allocate).toThrow(`Tensor.allocate type must be a numeric element type; received the string ${JSON.stringify(name)}`);
  });
});

test('onnxruntime-common\'s tensor surface: dispose, dataLocation, cpuData, fromPinnedBuffer', async () => {
  const data = new Float32Array([1, 2, 3, 4]);
  const t = Tensor.fromPinnedBuffer('float32', data, [2, 2]);
  expect(t.data).toBe(data);
  expect(t.dims).toEqual([2, 2]);
  expect(t.dataLocation).toBe('cpu');
  expect(t.cpuData).toBe(data);
  t.dispose(); // as onnxruntime-common's: the tensor lets go of the data (the caller's array is untouched)
  expect(t.location).toBe('none');
  expect(t.dataLocation).toBe('none');
  expect(t.cpuData).toBeUndefined();
  expect(() => t.data).toThrow('this Tensor was disposed (tensor.dispose()): it has no data any more');
  await expect(t.getData()).rejects.toThrow('disposed');
  expect(data).toEqual(new Float32Array([1, 2, 3, 4]));
  expect(() => Tensor.fromPinnedBuffer('float32', new Float32Array(3), [2, 2])).toThrow(RangeError);
});

describe("Tensor is onnxruntime-common's Tensor as far as code can tell", () => {
  test('instanceof holds both ways, for CPU tensors', () => {
    const ours = new Tensor('float32', new Float32Array(2));
    const theirs = new common.Tensor('float32', new Float32Array(2));
    expect(ours instanceof common.Tensor).toBe(true);
    expect(theirs instanceof Tensor).toBe(true);
    expect(Object.assign(Object.create(common.Tensor.prototype), theirs) instanceof Tensor).toBe(true);
    // Pinned and GPU tensors of onnxruntime-common are not ort-napi's: run() takes pinned ones as tensor-likes.
    expect(common.Tensor.fromPinnedBuffer('float32', new Float32Array(2)) instanceof Tensor).toBe(false);
    expect({ type: 'float32', data: new Float32Array(1), dims: [1] } instanceof Tensor).toBe(false);
    expect((null as unknown) instanceof Tensor).toBe(false);
    // A subclass keeps its own instanceof.
    class Sub extends Tensor {}
    expect(new Sub('float32', new Float32Array(1)) instanceof Sub).toBe(true);
    expect(ours instanceof Sub).toBe(false);
    expect(theirs instanceof Sub).toBe(false);
  });

  test("what ort-napi does not define is onnxruntime-common's own", () => {
    const t = new Tensor('float32', new Float32Array(1));
    expect(() => t.texture).toThrow('The data is not stored as a WebGL texture.');
    expect(() => t.gpuBuffer).toThrow('The data is not stored as a WebGPU buffer.');
    // The web's device-memory factories are common's, behind a check of their options: what they
    // make is common's own tensor.
    const texture = Tensor.fromTexture({} as never, { width: 2, height: 1 });
    expect(texture).toBeInstanceOf(common.Tensor);
    expect([texture.location, texture.type, texture.dims]).toEqual(['texture', 'float32', [1, 1, 2, 4]]);
    const buffer = Tensor.fromGpuBuffer({} as never, { dataType: 'float32', dims: [2] });
    expect([buffer.location, buffer.type, buffer.dims]).toEqual(['gpu-buffer', 'float32', [2]]);
    expect(Tensor.fromMLTensor({} as never, { dataType: 'int32', dims: [1] }).location).toBe('ml-tensor');
  });

  test("the web's device-memory factories name what is wrong with their options (onnxruntime-common destructures them unchecked)", () => {
    const cases: [() => unknown, string][] = [
      [() => Tensor.fromGpuBuffer({} as never, undefined as never), 'Tensor.fromGpuBuffer options must be an object describing a GPU buffer; received undefined'],
      [() => Tensor.fromGpuBuffer({} as never, { dims: [1] } as never), 'Tensor.fromGpuBuffer options.dataType must be a tensor type name; received undefined'],
      [() => Tensor.fromGpuBuffer({} as never, { dataType: 'float32' } as never), 'Tensor.fromGpuBuffer options.dims must be an array of dims; received undefined'],
      [() => Tensor.fromMLTensor({} as never, null as never), 'Tensor.fromMLTensor options must be an object describing an ML tensor; received null'],
      [() => Tensor.fromTexture({} as never, { width: -1, height: 1 }), 'Tensor.fromTexture options.width must be a non-negative integer; received number -1'],
      [() => Tensor.fromTexture({} as never, { width: 1 } as never), 'Tensor.fromTexture options.height must be a non-negative integer; received undefined'],
    ];
    for (const [call, message] of cases) expect(call).toThrow(new TypeError(message));
    // What common checks itself still reaches the caller as common words it.
    expect(() => Tensor.fromGpuBuffer({} as never, { dataType: 'foo' as never, dims: [1] })).toThrow('unsupported type "foo" to create tensor from gpu buffer');
  });

  test("outputs of a run are ort-napi's Tensors and onnxruntime-common's", async () => {
    const session = await InferenceSession.create(identity('int64', ['n']));
    const { y } = await session.run({ x: new common.Tensor('int64', [1, 2]) as never });
    expect(y).toBeInstanceOf(Tensor);
    expect(y).toBeInstanceOf(common.Tensor);
    expect(Object.keys(y)).toEqual(['cpuData', 'dataLocation', 'type', 'dims', 'size']);
    expect(y.data).toEqual(new BigInt64Array([1n, 2n]));
    expect(y.size).toBe(2);
    await session.release();
  });

  test('Uint8ClampedArray data is uint8, over the same bytes', () => {
    const pixels = new Uint8ClampedArray([0, 128, 255, 7]);
    const inferred = new Tensor(pixels);
    expect(inferred.type).toBe('uint8');
    expect(inferred.data).toEqual(new Uint8Array([0, 128, 255, 7]));
    expect((inferred.data as Uint8Array).buffer).toBe(pixels.buffer);
    expect(new Tensor('uint8', pixels, [2, 2]).dims).toEqual([2, 2]);
    expect(() => new Tensor('int8', pixels as never)).toThrow("Tensor data of type 'int8' must be a Int8Array or an array; received a Uint8ClampedArray of length 4");
  });

  test.each(['float16', 'bfloat16', 'float8e4m3fn', 'int4', 'uint4'])('numbers for %s are refused: they would be stored as bit patterns', (type) => {
    expect(() => new Tensor(type as never, [1.5, 2] as never)).toThrow(TypeError);
    expect(() => new Tensor(type as never, [1.5, 2] as never)).toThrow(`Tensor data of type '${type}' must be a`);
  });
});

describe('image helpers in Node.js', () => {
  const pixels = (width: number, height: number) => Uint8ClampedArray.from({ length: width * height * 4 }, (_, i) => (i * 37) % 256);

  test('fromImage takes ImageData-like RGBA pixels: [1, 3, h, w] planes, (pixel + bias) / mean', async () => {
    const data = pixels(2, 1); // two pixels: [0, 37, 74, 111], [148, 185, 222, 3]
    const t = await Tensor.fromImage({ data, width: 2, height: 1 });
    expect(t).toBeInstanceOf(Tensor);
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([1, 3, 1, 2]);
    expect(Array.from(t.data)).toEqual([0, 148, 37, 185, 74, 222].map((v) => Math.fround(v / 255)));
    const bgra = await Tensor.fromImage({ data, width: 2, height: 1 }, { tensorFormat: 'BGR', norm: { mean: [1, 2, 4], bias: -1 } });
    expect(Array.from(bgra.data)).toEqual([73 / 4, 221 / 4, 36 / 2, 184 / 2, -1, 147]);
    const rgba = await Tensor.fromImage({ data: new Uint8Array(data), width: 2, height: 1 }, { tensorFormat: 'RGBA', norm: { mean: 1, bias: 0 } });
    expect(rgba.dims).toEqual([1, 4, 1, 2]);
    expect(Array.from(rgba.data)).toEqual([0, 148, 37, 185, 74, 222, 111, 3]);
  });

  test.each<[string, unknown, unknown, string]>([
    ['a URL', 'https://example.com/a.png', undefined, 'Tensor.fromImage(url) needs a canvas and an Image, which Node.js does not have'],
    ['raw bytes', new Uint8Array(16), undefined, 'Tensor.fromImage image must be an ImageData or { data: Uint8ClampedArray | Uint8Array of width * height * 4 RGBA bytes, width, height }; received a Uint8Array of length 16'],
    ['a short buffer', { data: new Uint8Array(15), width: 2, height: 2 }, undefined, 'Tensor.fromImage image.data has 15 bytes but 2x2 RGBA pixels need 16'],
    ['a zero width', { data: new Uint8Array(0), width: 0, height: 2 }, undefined, 'Tensor.fromImage image.width must be a positive integer; received number 0'],
    ['a resize', { data: new Uint8Array(16), width: 2, height: 2 }, { resizedWidth: 4, resizedHeight: 4 }, "Tensor.fromImage options.resizedWidth is 4, not the image's 2: changing the size needs a canvas"],
    ['NHWC', { data: new Uint8Array(16), width: 2, height: 2 }, { tensorLayout: 'NHWC' }, "Tensor.fromImage options.tensorLayout 'NHWC' is not supported"],
    ['an unknown format', { data: new Uint8Array(16), width: 2, height: 2 }, { tensorFormat: 'CMYK' }, "Tensor.fromImage options.tensorFormat must be one of 'RGB', 'RGBA', 'BGR', 'RBG'; received the string \"CMYK\""],
    ['a bad norm', { data: new Uint8Array(16), width: 2, height: 2 }, { norm: { mean: [1, 2] } }, 'Tensor.fromImage options.norm.mean must be a finite number or an array of 3 or 4 finite numbers; received an array of length 2'],
  ])('fromImage refuses %s, saying why', async (_what, image, options, message) => {
    await expect(Tensor.fromImage(image as never, options as never)).rejects.toThrow(message);
  });

  test('toImageData and toDataURL need a canvas: a ReferenceError that says so', () => {
    const t = new Tensor('float32', new Float32Array(12), [1, 3, 2, 2]);
    expect(() => t.toImageData()).toThrow(ReferenceError);
    expect(() => t.toImageData()).toThrow('Tensor.toImageData needs a canvas (document or OffscreenCanvas), which Node.js does not have');
    expect(() => t.toDataURL()).toThrow(ReferenceError);
    expect(() => t.toDataURL()).toThrow('OffscreenCanvas is not defined');
  });
});
