// tensor.ts: Tensor (onnxruntime-common's, as far as code can tell) and the table of element types with their ONNX codes.
import { Tensor as CommonTensorClass, type TensorConstructor as CommonTensorConstructor, type Tensor as CommonTensorType } from 'onnxruntime-common';
import { dimsText, invalid, outOfRange } from './validate.js';

/** Data of each element type. 16-bit floats are bit patterns in a Uint16Array. */
export interface TensorDataTypeMap {
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  string: string[];
  float16: Uint16Array;
  bfloat16: Uint16Array;
  /** The four float8 formats: bit patterns, one per byte. */
  float8e4m3fn: Uint8Array;
  float8e4m3fnuz: Uint8Array;
  float8e5m2: Uint8Array;
  float8e5m2fnuz: Uint8Array;
  /** 4-bit integers packed two per byte, low nibble first, as ONNX Runtime stores them; dims count elements. */
  int4: Uint8Array;
  uint4: Uint8Array;
}

export type TensorType = keyof TensorDataTypeMap;
export type TensorData = TensorDataTypeMap[TensorType];
type TypedArrayConstructor = {
  new (length: number): ArrayBufferView & ArrayLike<unknown>;
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): ArrayBufferView & ArrayLike<unknown>;
  new (array: ArrayBufferView): ArrayBufferView & ArrayLike<unknown>;
  readonly BYTES_PER_ELEMENT: number;
  from(items: Iterable<unknown>): unknown;
};

interface ElementType {
  readonly code: number; // ONNXTensorElementDataType
  readonly array: TypedArrayConstructor | null; // null: string
  readonly bigint: boolean;
  readonly perUnit?: number; // elements per array entry: 2 for the packed 4-bit types
}

/** The element types ort-napi converts, with ONNX Runtime's ONNXTensorElementDataType codes. */
export const ELEMENT_TYPES: Readonly<Record<TensorType, ElementType>> = {
  float32: { code: 1, array: Float32Array, bigint: false },
  uint8: { code: 2, array: Uint8Array, bigint: false },
  int8: { code: 3, array: Int8Array, bigint: false },
  uint16: { code: 4, array: Uint16Array, bigint: false },
  int16: { code: 5, array: Int16Array, bigint: false },
  int32: { code: 6, array: Int32Array, bigint: false },
  int64: { code: 7, array: BigInt64Array, bigint: true },
  string: { code: 8, array: null, bigint: false },
  bool: { code: 9, array: Uint8Array, bigint: false },
  float16: { code: 10, array: Uint16Array, bigint: false },
  float64: { code: 11, array: Float64Array, bigint: false },
  uint32: { code: 12, array: Uint32Array, bigint: false },
  uint64: { code: 13, array: BigUint64Array, bigint: true },
  bfloat16: { code: 16, array: Uint16Array, bigint: false },
  float8e4m3fn: { code: 17, array: Uint8Array, bigint: false },
  float8e4m3fnuz: { code: 18, array: Uint8Array, bigint: false },
  float8e5m2: { code: 19, array: Uint8Array, bigint: false },
  float8e5m2fnuz: { code: 20, array: Uint8Array, bigint: false },
  uint4: { code: 21, array: Uint8Array, bigint: false, perUnit: 2 },
  int4: { code: 22, array: Uint8Array, bigint: false, perUnit: 2 },
};

/** The entry of a type name given by a caller: own keys only, so 'constructor' or '__proto__' are no types. */
export function elementType(type: unknown): ElementType | undefined {
  return typeof type === 'string' && Object.hasOwn(ELEMENT_TYPES, type) ? ELEMENT_TYPES[type as TensorType] : undefined;
}

/** How many array entries hold `size` elements of `type` (4-bit types pack two per byte). */
export function storageLength(type: TensorType, size: number): number {
  const per = ELEMENT_TYPES[type].perUnit ?? 1;
  return Math.ceil(size / per);
}

/** Element type names and TypedArray constructors by ONNX code (for the addon's outputs). */
export const TYPE_BY_CODE: (TensorType | undefined)[] = [];
export const ARRAY_BY_CODE: (TypedArrayConstructor | undefined)[] = [];
for (const [name, info] of Object.entries(ELEMENT_TYPES)) {
  TYPE_BY_CODE[info.code] = name as TensorType;
  if (info.array) ARRAY_BY_CODE[info.code] = info.array;
}

/** The element type name of an ONNX code, or `onnx-type-<code>` for one ort-napi does not convert. */
export function typeName(code: number): TensorType | `onnx-type-${number}` {
  return TYPE_BY_CODE[code] ?? `onnx-type-${code}`;
}

const INFERRED: [new (...args: never[]) => unknown, TensorType][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [Int16Array, 'int16'],
  [Uint16Array, 'uint16'],
  [Int32Array, 'int32'],
  [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
];

const Float16ArrayCtor = (globalThis as { Float16Array?: new (...args: never[]) => ArrayBufferView }).Float16Array;

function inferType(data: unknown): TensorType {
  if (Array.isArray(data)) {
    if (data.length > 0 && typeof data[0] === 'string') return 'string';
    if (data.length > 0 && typeof data[0] === 'boolean') return 'bool';
    return 'float32';
  }
  for (const [ctor, type] of INFERRED) if (data instanceof ctor) return type;
  if (data instanceof Uint8ClampedArray) return 'uint8'; // as onnxruntime-common infers it (canvas pixels)
  if (Float16ArrayCtor && data instanceof Float16ArrayCtor) return 'float16';
  throw invalid('Tensor data', 'a TypedArray or an array', data);
}

function validateDims(dims: unknown): { dims: readonly number[]; size: number } {
  if (!Array.isArray(dims)) throw invalid('Tensor dims', 'an array of non-negative integers', dims);
  let size = 1;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw outOfRange(`Tensor dims[${i}]`, 'a non-negative integer', d);
    }
    size *= d;
  }
  return { dims: Object.freeze(dims.slice()), size };
}

function checkDims(dims: unknown, length: number, type: TensorType): { dims: readonly number[]; size: number } {
  const checked = validateDims(dims);
  const need = storageLength(type, checked.size);
  if (need !== length) {
    const packed = need !== checked.size ? ` bytes (${checked.size} 4-bit values, two per byte)` : '';
    throw new RangeError(`Tensor data has ${length} elements but dims ${dimsText(checked.dims)} need ${need}${packed}`);
  }
  return checked;
}

/** Converts plain JS arrays, and Float16Array, into the TypedArray ONNX Runtime reads. */
function toData(type: TensorType, data: unknown): TensorData {
  const info = ELEMENT_TYPES[type];
  if (info.array === null) {
    if (!Array.isArray(data)) throw invalid("Tensor data of type 'string'", 'an array of strings', data);
    for (let i = 0; i < data.length; i++) {
      if (typeof data[i] !== 'string') throw invalid(`Tensor data[${i}] of type 'string'`, 'a string', data[i]);
    }
    return data as string[];
  }
  if (data instanceof info.array) return data as TensorData;
  if (type === 'uint8' && data instanceof Uint8ClampedArray) return new Uint8Array(data.buffer, data.byteOffset, data.length); // the same bytes
  if (type === 'float16' && Float16ArrayCtor && data instanceof Float16ArrayCtor) {
    const view = data as ArrayBufferView;
    return new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2); // the same bytes, as bit patterns
  }
  if (Array.isArray(data)) {
    if (info.array === Uint16Array && type !== 'uint16' || info.perUnit || type.startsWith('float8')) {
      // Numbers would be stored as they are, not as the type's bit patterns or packed nibbles (onnxruntime-common refuses them too).
      throw invalid(`Tensor data of type '${type}'`, `a ${info.array.name} of its bit patterns${info.perUnit ? ', two values per byte' : ''} (not an array of numbers)`, data);
    }
    if (info.bigint) return info.array.from(Array.from(data as unknown[], (v, i) => toBigInt(type, v, i)) as never) as TensorData; // holes visited too
    if (type === 'bool') return Uint8Array.from(data, (v) => (v ? 1 : 0));
    return info.array.from(data) as TensorData;
  }
  throw invalid(`Tensor data of type '${type}'`, `a ${info.array.name}${type === 'float16' ? ' (or Float16Array)' : ''} or an array`, data);
}

/** An element of an int64/uint64 array, as BigInt() takes it (onnxruntime-common's conversion), or a TypeError naming it. */
function toBigInt(type: TensorType, value: unknown, index: number): bigint {
  if (typeof value === 'bigint') return value;
  try {
    return BigInt(value as number);
  } catch {
    throw invalid(`Tensor data[${index}] of type '${type}'`, 'an integer (a number or a bigint)', value);
  }
}

/**
 * Where a tensor's data lives: onnxruntime-common's locations ('none' once disposed), and 'cuda'
 * for device memory ONNX Runtime allocated (Tensor.allocate, IoBinding outputs).
 */
export type TensorLocation = 'none' | 'cpu' | 'cpu-pinned' | 'texture' | 'gpu-buffer' | 'ml-tensor' | 'cuda';

/** The addon's handle on a tensor in device memory. */
export interface DeviceHandle {
  describe(): [number, number[], string, number];
  download(): Promise<[number, ArrayBufferView | string[], number[]]>;
  release(): void;
}

export interface AllocateOptions {
  device: 'cpu' | 'cuda';
  /** Which CUDA device (default 0). */
  deviceId?: number;
  /** libonnxruntime_providers_cuda.so, as for the cuda execution provider. */
  providerLibraryPath?: string;
}

/** Supplied by the session layer: allocates device memory through ONNX Runtime. */
let deviceAllocator: ((type: TensorType, dims: readonly number[], options: AllocateOptions) => DeviceHandle) | undefined;
export function setDeviceAllocator(allocate: typeof deviceAllocator): void {
  deviceAllocator = allocate;
}

// The constructor's internal forms: a device tensor from its handle, and a tensor the addon made
// (an output: its type, data and dims are right by construction, so nothing is checked or copied).
const fromDevice = Symbol('fromDevice');
const trusted = Symbol('trusted');

/** onnxruntime-common's Tensor class (the CommonJS build, which onnxruntime-node re-exports). */
const CommonTensor = CommonTensorClass as unknown as { prototype: object; fromImage(image: unknown, options?: unknown): Promise<unknown> };

/** An image's pixels as ImageData holds them: RGBA, one byte per channel, row by row. */
export interface ImageDataLike {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** onnxruntime-common's options of Tensor.fromImage (resizing needs a canvas: see fromImage). */
export interface TensorFromImageOptions {
  /** Channel order of the tensor (default 'RGB'): 'RGB', 'RGBA', 'BGR' or 'RBG'. */
  tensorFormat?: 'RGB' | 'RGBA' | 'BGR' | 'RBG';
  /** 'NCHW' only, as in onnxruntime-common. */
  tensorLayout?: 'NCHW' | 'NHWC';
  /** Accepted and, as in onnxruntime-common, not used: the tensor is float32. */
  dataType?: 'float32' | 'uint8';
  /** The image's own size only (a canvas would crop or pad to another). */
  resizedWidth?: number;
  resizedHeight?: number;
  /** value = (pixel + bias) / mean, per channel (default mean 255, bias 0). */
  norm?: { bias?: number | [number, number, number] | [number, number, number, number]; mean?: number | [number, number, number] | [number, number, number, number] };
  /** For a URL or bitmap source (needs a canvas); ignored for ImageData, which is RGBA. */
  format?: 'RGB' | 'RGBA' | 'BGR' | 'RBG';
  height?: number;
  width?: number;
}

/** onnxruntime-common's options of toImageData and toDataURL. */
export interface TensorToImageOptions {
  tensorLayout?: 'NCHW' | 'NHWC';
  format?: 'RGB' | 'RGBA' | 'BGR' | 'RBG';
  norm?: TensorFromImageOptions['norm'];
}

/**
 * A tensor: an element type, its data and its dims, in CPU memory or on a device. It is
 * onnxruntime-common's Tensor as far as code can tell: `instanceof` holds both ways (for
 * onnxruntime-common's CPU tensors), its own properties are the ones onnxruntime-common's tensors
 * have (so Object.assign and spread copies carry the data), and what ort-napi does not define is
 * onnxruntime-common's own (texture, gpuBuffer, mlTensor, fromTexture, ...).
 */
export class Tensor<T extends TensorType = TensorType> {
  // Own properties, in onnxruntime-common's order. type, dims and size are read-only to TypeScript;
  // at run time the addon checks data against dims and type on every use, as they are mutable in
  // onnxruntime-common too.
  /** onnxruntime-common's: the data when it is in CPU memory, else undefined. */
  declare cpuData: TensorDataTypeMap[T] | undefined;
  /** onnxruntime-common's name for location. */
  declare dataLocation: TensorLocation;
  declare readonly type: T;
  declare readonly dims: readonly number[];
  declare readonly size: number;
  #device: DeviceHandle | undefined;
  #deviceId: number | undefined;
  // onnxruntime-common's own, inherited: they throw, as ort-napi's data is never there.
  declare readonly texture: CommonTensorType['texture'];
  declare readonly gpuBuffer: CommonTensorType['gpuBuffer'];
  declare readonly mlTensor: CommonTensorType['mlTensor'];
  declare static fromTexture: CommonTensorConstructor['fromTexture'];
  declare static fromGpuBuffer: CommonTensorConstructor['fromGpuBuffer'];
  declare static fromMLTensor: CommonTensorConstructor['fromMLTensor'];

  constructor(type: T, data: TensorDataTypeMap[T] | readonly (number | bigint | boolean | string)[] | Uint8ClampedArray, dims?: readonly number[]);
  constructor(data: TensorDataTypeMap[T] | readonly boolean[] | readonly string[] | Uint8ClampedArray, dims?: readonly number[]);
  constructor(typeOrData: unknown, dataOrDims?: unknown, maybeDims?: unknown, rawDims?: unknown) {
    if (typeOrData === trusted) {
      this.cpuData = maybeDims as TensorDataTypeMap[T];
      this.dataLocation = 'cpu';
      (this as { type: T }).type = dataOrDims as T;
      (this as { dims: readonly number[] }).dims = rawDims as number[];
      let size = 1;
      for (const d of rawDims as number[]) size *= d;
      (this as { size: number }).size = size;
      return;
    }
    if (typeOrData === fromDevice) {
      const handle = dataOrDims as DeviceHandle;
      const [code, dims, name, id] = handle.describe();
      this.cpuData = undefined;
      this.dataLocation = name.toLowerCase() === 'cpu' ? 'cpu' : 'cuda';
      (this as { type: T }).type = typeName(code) as T;
      (this as { dims: readonly number[] }).dims = Object.freeze(dims);
      (this as { size: number }).size = dims.reduce((a, b) => a * b, 1);
      this.#device = handle;
      this.#deviceId = id;
      return;
    }
    let type: TensorType;
    let rawData: unknown;
    let dims: unknown;
    if (typeof typeOrData === 'string') {
      if (!elementType(typeOrData)) {
        throw invalid('Tensor type', `one of ${Object.keys(ELEMENT_TYPES).join(', ')}`, typeOrData);
      }
      type = typeOrData as TensorType;
      rawData = dataOrDims;
      dims = maybeDims;
    } else {
      type = inferType(typeOrData);
      rawData = typeOrData;
      dims = dataOrDims;
    }
    const data = toData(type, rawData);
    const checked = checkDims(dims ?? [data.length * (ELEMENT_TYPES[type].perUnit ?? 1)], data.length, type);
    this.cpuData = data as TensorDataTypeMap[T];
    this.dataLocation = 'cpu';
    (this as { type: T }).type = type as T;
    (this as { dims: readonly number[] }).dims = checked.dims;
    (this as { size: number }).size = checked.size;
  }

  /**
   * Accepts ort-napi's tensors (and objects built on their prototype, as Object.assign copies are)
   * and onnxruntime-common's tensors in CPU memory, which run() takes as they are: code that checks
   * `value instanceof Tensor` with onnxruntime-node's Tensor sees one class, as it did there.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (this !== Tensor) return Function.prototype[Symbol.hasInstance].call(this, value); // a subclass: its own chain
    if (typeof value !== 'object' || value === null) return false;
    if (Tensor.prototype.isPrototypeOf(value)) return true;
    if (!CommonTensor.prototype.isPrototypeOf(value)) return false;
    const location = (value as { dataLocation?: unknown }).dataLocation;
    return location === 'cpu' || location === 'none';
  }

  /**
   * A tensor of `dims` allocated through ONNX Runtime's allocator on `device`: zeros in CPU
   * memory, uninitialised device memory on 'cuda' (bind it as an output, or as an input once written).
   */
  static allocate<T extends Exclude<TensorType, 'string'>>(type: T, dims: readonly number[], options: AllocateOptions = { device: 'cpu' }): Tensor<T> {
    const info = elementType(type);
    if (!info || info.array === null) throw invalid('Tensor.allocate type', 'a numeric element type', type);
    const { size } = validateDims(dims);
    if (options.device === 'cpu') return new Tensor(type, new info.array(storageLength(type, size)) as never, dims);
    if (options.device !== 'cuda') throw invalid('Tensor.allocate options.device', "'cpu' or 'cuda'", options.device);
    if (!deviceAllocator) throw new Error('ort-napi is not fully loaded');
    return Tensor._fromDevice(deviceAllocator(type, dims, options)) as Tensor<T>;
  }

  /** @internal */
  static _fromDevice(handle: DeviceHandle): Tensor {
    return new Tensor(fromDevice as never, handle as never);
  }

  /** @internal A tensor the addon made: type, data and dims taken as they are (no checks, no copies). */
  static _trusted(type: TensorType, data: TensorData, dims: number[]): Tensor {
    return new (Tensor as unknown as new (...args: unknown[]) => Tensor)(trusted, type, data, dims);
  }

  /** The data, in CPU memory. A device tensor has none here: use `await getData()`. */
  get data(): TensorDataTypeMap[T] {
    const data = this.cpuData;
    if (data !== undefined) return data;
    if (this.dataLocation === 'none') throw new Error('this Tensor was disposed (tensor.dispose()): it has no data any more');
    throw new TypeError(`this Tensor lives in ${this.dataLocation} memory${this.deviceId === undefined ? '' : ` (device ${this.deviceId})`}: read it with await tensor.getData()`);
  }

  /** Where the data lives: 'cpu', 'cuda' (device memory), or 'none' once disposed. */
  get location(): TensorLocation {
    return this.dataLocation;
  }

  /** The CUDA device of a device tensor. */
  get deviceId(): number | undefined {
    return #deviceId in this ? this.#deviceId : undefined;
  }

  /**
   * The data in CPU memory: itself for a CPU tensor, a copy from the device for a device tensor
   * (which `releaseData` then frees, as in onnxruntime-common).
   */
  async getData(releaseData?: boolean): Promise<TensorDataTypeMap[T]> {
    if (this.cpuData !== undefined) return this.cpuData;
    if (this.dataLocation === 'none') throw new Error('this Tensor was disposed (tensor.dispose()): it has no data any more');
    const device = this._device;
    if (!device) throw new TypeError('this device tensor was released');
    const data = (await device.download())[1] as TensorDataTypeMap[T];
    if (releaseData) this.release();
    return data;
  }

  /** Frees a device tensor's memory now rather than at garbage collection. No-op for CPU tensors. */
  release(): void {
    if (!(#device in this)) return;
    this.#device?.release();
    this.#device = undefined;
  }

  /**
   * onnxruntime-common's: frees device memory and lets go of the data (the caller's array is left
   * as it is); the tensor is then at location 'none' and has no data.
   */
  dispose(): void {
    this.release();
    this.cpuData = undefined;
    this.dataLocation = 'none';
  }

  /**
   * onnxruntime-common's: a tensor over a buffer in pinned CPU memory. Node.js has no pinned
   * memory of its own, so this is a CPU tensor over `buffer` (onnxruntime-node's says 'cpu-pinned'
   * and runs it as CPU memory too).
   */
  static fromPinnedBuffer<T extends Exclude<TensorType, 'string'>>(type: T, buffer: TensorDataTypeMap[T], dims?: readonly number[]): Tensor<T> {
    return new Tensor(type, buffer, dims);
  }

  /**
   * onnxruntime-common's Tensor.fromImage: a float32 tensor [1, 3 (or 4), height, width] of an
   * image's pixels, each (pixel + bias) / mean. Node.js has no ImageData, canvas or Image, so
   * onnxruntime-node refuses every form there; ort-napi takes ImageData and ImageData-like
   * objects ({ data: RGBA bytes, width, height }: what sharp's raw output gives) and computes what
   * onnxruntime-common computes from an ImageData. URLs, image elements and bitmaps need a canvas:
   * where the process has one (document or OffscreenCanvas), onnxruntime-common's own code runs.
   */
  static async fromImage(image: ImageDataLike | string | object, options?: TensorFromImageOptions): Promise<Tensor<'float32'>> {
    if (isImageDataLike(image)) return imageToTensor(image, options);
    const g = globalThis as Record<string, unknown>;
    const hasCanvas = g.document !== undefined || g.OffscreenCanvas !== undefined;
    const isBrowserImage = (name: string) => typeof g[name] === 'function' && image instanceof (g[name] as new () => object);
    if (hasCanvas && (typeof image === 'string' || isBrowserImage('HTMLImageElement') || isBrowserImage('ImageBitmap'))) {
      const made = (await CommonTensor.fromImage(image, options)) as Tensor<'float32'>;
      return new Tensor('float32', made.data, made.dims);
    }
    if (typeof image === 'string') {
      throw new TypeError(
        'Tensor.fromImage(url) needs a canvas and an Image, which Node.js does not have (onnxruntime-node refuses it too): ' +
          'decode the image to RGBA first (e.g. sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true })) and pass { data, width, height }',
      );
    }
    throw invalid('Tensor.fromImage image', 'an ImageData or { data: Uint8ClampedArray | Uint8Array of width * height * 4 RGBA bytes, width, height }', image);
  }

  /**
   * onnxruntime-common's: the tensor as ImageData. That needs a canvas (document or OffscreenCanvas),
   * which Node.js does not have: there it throws the ReferenceError onnxruntime-node throws, saying so.
   */
  toImageData(options?: TensorToImageOptions): ImageDataLike {
    return withCanvas('toImageData', () => (CommonTensor.prototype as { toImageData(o?: unknown): ImageDataLike }).toImageData.call(this, options));
  }

  /** onnxruntime-common's: the tensor as a data: URL of an image. Needs a canvas, as toImageData does. */
  toDataURL(options?: TensorToImageOptions): string {
    return withCanvas('toDataURL', () => (CommonTensor.prototype as { toDataURL(o?: unknown): string }).toDataURL.call(this, options));
  }

  /** @internal The addon's handle of a device tensor. */
  get _device(): DeviceHandle | undefined {
    return #device in this ? this.#device : undefined;
  }

  /** A tensor over the same data with other dims of the same size. */
  reshape(dims: readonly number[]): Tensor<T> {
    return new Tensor(this.type, this.data, dims);
  }

  toString(): string {
    return `Tensor(${this.type}, ${dimsText(this.dims)}${this.dataLocation === 'cpu' ? '' : `, ${this.dataLocation}${this.deviceId === undefined ? '' : `:${this.deviceId}`}`})`;
  }
}

// onnxruntime-common's Tensor is an ancestor: `instanceof` it holds, and what ort-napi does not
// define (texture, gpuBuffer, mlTensor, ensureValid; fromTexture, fromGpuBuffer, fromMLTensor) is
// its own. Its constructor is never called: outputs are made without its checks.
Object.setPrototypeOf(Tensor.prototype, CommonTensor.prototype);
Object.setPrototypeOf(Tensor, CommonTensor);

// onnxruntime-common's factories for the web's device memory (a WebGL texture, a WebGPU buffer, a
// WebNN tensor) read their options unchecked: without them they throw "Cannot destructure property
// 'dataType' of 'options' as it is undefined", and a texture's width of -1 comes back as "dims[2]
// must be a non-negative integer". The options are checked here first; what they make is
// onnxruntime-common's own tensor, as before (no Node.js backend runs on that memory, and a run
// refuses it naming the input).
const WEB_FACTORIES = [
  ['fromTexture', 'a texture'],
  ['fromGpuBuffer', 'a GPU buffer'],
  ['fromMLTensor', 'an ML tensor'],
] as const;
for (const [method, source] of WEB_FACTORIES) {
  const common = (CommonTensorClass as unknown as Record<string, (source: unknown, options: unknown) => unknown>)[method];
  const checked = {
    [method](this: unknown, from: unknown, options: unknown): unknown {
      const what = `Tensor.${method} options`;
      if (typeof options !== 'object' || options === null) throw invalid(what, `an object describing ${source}`, options);
      const o = options as Record<string, unknown>;
      if (method === 'fromTexture') {
        for (const key of ['width', 'height'] as const) {
          if (!Number.isSafeInteger(o[key]) || (o[key] as number) < 0) throw invalid(`${what}.${key}`, 'a non-negative integer', o[key]);
        }
      } else {
        if (typeof o.dataType !== 'string') throw invalid(`${what}.dataType`, 'a tensor type name', o.dataType);
        if (!Array.isArray(o.dims)) throw invalid(`${what}.dims`, 'an array of dims', o.dims);
      }
      return common.call(this, from, options);
    },
  }[method];
  Object.defineProperty(Tensor, method, { value: checked, writable: true, configurable: true });
}

/** Runs one of onnxruntime-common's canvas conversions, or says clearly that there is no canvas. */
function withCanvas<R>(method: string, convert: () => R): R {
  const g = globalThis as Record<string, unknown>;
  if (g.document === undefined && g.OffscreenCanvas === undefined) {
    throw new ReferenceError(`Tensor.${method} needs a canvas (document or OffscreenCanvas), which Node.js does not have (onnxruntime-node throws too): OffscreenCanvas is not defined`);
  }
  return convert();
}

function isImageDataLike(image: unknown): image is ImageDataLike {
  if (typeof image !== 'object' || image === null) return false;
  const { data, width, height } = image as Partial<ImageDataLike>;
  return (data instanceof Uint8ClampedArray || data instanceof Uint8Array) && typeof width === 'number' && typeof height === 'number';
}

const IMAGE_FORMATS = ['RGB', 'RGBA', 'BGR', 'RBG'] as const;

/** Four per-channel values of a norm parameter, as onnxruntime-common expands them. */
function normValues(what: string, value: unknown, fallback: number, fourth: number): [number, number, number, number] {
  if (value === undefined) return [fallback, fallback, fallback, fallback];
  if (typeof value === 'number' && Number.isFinite(value)) return [value, value, value, value];
  if (Array.isArray(value) && (value.length === 3 || value.length === 4) && value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return [value[0], value[1], value[2], value[3] ?? fourth];
  }
  throw invalid(what, 'a finite number or an array of 3 or 4 finite numbers', value);
}

/** onnxruntime-common's bufferToTensor for an RGBA image, the same arithmetic, its options checked. */
function imageToTensor(image: ImageDataLike, options: TensorFromImageOptions | undefined): Tensor<'float32'> {
  const { width, height, data } = image;
  if (!Number.isSafeInteger(width) || width <= 0) throw outOfRange('Tensor.fromImage image.width', 'a positive integer', width);
  if (!Number.isSafeInteger(height) || height <= 0) throw outOfRange('Tensor.fromImage image.height', 'a positive integer', height);
  if (data.length !== width * height * 4) {
    throw new RangeError(`Tensor.fromImage image.data has ${data.length} bytes but ${width}x${height} RGBA pixels need ${width * height * 4}`);
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('Tensor.fromImage options', 'an object', options);
  const o = options ?? {};
  for (const [key, size] of [['resizedWidth', width], ['resizedHeight', height]] as const) {
    const value = o[key];
    if (value !== undefined && value !== size) {
      throw new RangeError(`Tensor.fromImage options.${key} is ${String(value)}, not the image's ${size}: changing the size needs a canvas, which Node.js does not have (resize the image first, e.g. with sharp)`);
    }
  }
  if (o.tensorLayout !== undefined && o.tensorLayout !== 'NCHW') {
    if (o.tensorLayout === 'NHWC') throw new Error("Tensor.fromImage options.tensorLayout 'NHWC' is not supported (onnxruntime-common makes NCHW tensors only)");
    throw invalid('Tensor.fromImage options.tensorLayout', "'NCHW'", o.tensorLayout);
  }
  const tensorFormat = o.tensorFormat ?? 'RGB';
  if (!(IMAGE_FORMATS as readonly string[]).includes(tensorFormat)) throw invalid('Tensor.fromImage options.tensorFormat', "one of 'RGB', 'RGBA', 'BGR', 'RBG'", tensorFormat);
  if (o.norm !== undefined && (typeof o.norm !== 'object' || o.norm === null)) throw invalid('Tensor.fromImage options.norm', 'an object { mean, bias }', o.norm);
  const mean = normValues('Tensor.fromImage options.norm.mean', o.norm?.mean, 255, 255);
  const bias = normValues('Tensor.fromImage options.norm.bias', o.norm?.bias, 0, 0);

  const stride = width * height;
  const channels = tensorFormat === 'RGBA' ? 4 : 3;
  const out = new Float32Array(stride * channels);
  // Planes in the tensor's channel order.
  let r = 0;
  let g = stride;
  let b = stride * 2;
  if (tensorFormat === 'RBG') [b, g] = [stride, stride * 2];
  else if (tensorFormat === 'BGR') [b, r] = [0, stride * 2];
  const a = channels === 4 ? stride * 3 : -1;
  for (let i = 0, p = 0; i < stride; i++, p += 4) {
    out[r + i] = (data[p] + bias[0]) / mean[0];
    out[g + i] = (data[p + 1] + bias[1]) / mean[1];
    out[b + i] = (data[p + 2] + bias[2]) / mean[2];
    if (a >= 0) out[a + i] = (data[p + 3] + bias[3]) / mean[3];
  }
  return new Tensor('float32', out, [1, channels, height, width]);
}

/**
 * onnxruntime-common's names for the tensor's types (`Tensor.Type`, `Tensor.DataType`, ...), so that
 * TypeScript written for onnxruntime-node type-checks against ort-napi unchanged.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace Tensor {
  type Type = TensorType;
  type DataType = TensorData;
  type DataTypeMap = TensorDataTypeMap;
  type DataLocation = TensorLocation;
}

/** onnxruntime-common's name for a tensor of one element type. */
export type TypedTensor<T extends TensorType> = Tensor<T>;

/** True when `data` can no longer be read: its ArrayBuffer was detached (transferred or resized away). */
export function isDetached(data: TensorData): boolean {
  if (Array.isArray(data)) return false;
  const buffer = (data as ArrayBufferView).buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  return buffer.byteLength === 0 && (data as ArrayBufferView).byteLength === 0;
}

