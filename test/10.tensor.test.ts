// 10.tensor: the Tensor constructor's forms, type inference, and its errors.
import { describe, expect, test } from 'vitest';
import { Tensor } from './support/ort.js';

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

  test('type, dims and size cannot be reassigned; the tensor still reads and spreads as before', () => {
    const t = new Tensor('float32', new Float32Array(4), [2, 2]);
    const loose = t as unknown as Record<string, unknown>;
    // Test files are modules, so strict: assigning a read-only property throws.
    expect(() => (loose.dims = [1000])).toThrow(TypeError);
    expect(() => (loose.size = 1000)).toThrow(TypeError);
    expect(() => (loose.type = 'float64')).toThrow(TypeError);
    expect(() => (loose.location = 'cuda')).toThrow(TypeError);
    expect(t.dims).toEqual([2, 2]);
    expect(t.size).toBe(4);
    expect(t.type).toBe('float32');
    expect(t.location).toBe('cpu');
    expect(Object.keys(t)).toEqual(['type', 'dims', 'size', 'location', 'deviceId']);
    expect({ ...t }).toEqual({ type: 'float32', dims: [2, 2], size: 4, location: 'cpu', deviceId: undefined });
    expect(t.reshape([4]).dims).toEqual([4]);
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

test('onnxruntime-common\'s tensor surface: dispose, dataLocation, cpuData, fromPinnedBuffer', () => {
  const data = new Float32Array([1, 2, 3, 4]);
  const t = Tensor.fromPinnedBuffer('float32', data, [2, 2]);
  expect(t.data).toBe(data);
  expect(t.dims).toEqual([2, 2]);
  expect(t.dataLocation).toBe('cpu');
  expect(t.cpuData).toBe(data);
  t.dispose(); // a CPU tensor keeps its data: the caller owns it
  expect(t.data).toBe(data);
  expect(() => Tensor.fromPinnedBuffer('float32', new Float32Array(3), [2, 2])).toThrow(RangeError);
});
