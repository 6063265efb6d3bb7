// tensor.ts: Tensor (onnxruntime-common's shape) and the table of element types with their ONNX codes.
import { invalid, outOfRange } from './validate.js';

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
type TypedArrayConstructor = { new (length: number): ArrayBufferView & ArrayLike<unknown>; from(items: Iterable<unknown>): unknown };

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

const TYPE_BY_CODE: (TensorType | undefined)[] = [];
for (const [name, info] of Object.entries(ELEMENT_TYPES)) TYPE_BY_CODE[info.code] = name as TensorType;

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
    throw new RangeError(`Tensor data has ${length} elements but dims [${checked.dims.join(',')}] need ${need}${packed}`);
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
  if (type === 'float16' && Float16ArrayCtor && data instanceof Float16ArrayCtor) {
    const view = data as ArrayBufferView;
    return new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2); // the same bytes, as bit patterns
  }
  if (Array.isArray(data)) {
    if (info.bigint) return info.array.from(data.map((v) => (typeof v === 'bigint' ? v : BigInt(v)))) as TensorData;
    if (type === 'bool') return Uint8Array.from(data, (v) => (v ? 1 : 0));
    return info.array.from(data) as TensorData;
  }
  throw invalid(`Tensor data of type '${type}'`, `a ${info.array.name}${type === 'float16' ? ' (or Float16Array)' : ''} or an array`, data);
}

/** Where a tensor's data lives. */
export type TensorLocation = 'cpu' | 'cuda';

/** The addon's handle on a tensor in device memory. */
export interface DeviceHandle {
  describe(): [number, number[], string, number];
  download(): Promise<[number, ArrayBufferView | string[], number[]]>;
  release(): void;
}

export interface AllocateOptions {
  device: TensorLocation;
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

const fromDevice = Symbol('fromDevice');

/** A tensor: an element type, its data and its dims (onnxruntime-common's shape); in CPU memory, or on a device. */
export class Tensor<T extends TensorType = TensorType> {
  // Read-only at run time too (the instance is frozen): ONNX Runtime reads the data by type and dims.
  readonly type: T;
  readonly dims: readonly number[];
  readonly size: number;
  readonly location: TensorLocation;
  /** The CUDA device of a device tensor. */
  readonly deviceId: number | undefined;
  #data: TensorDataTypeMap[T] | undefined;
  #device: DeviceHandle | undefined;

  constructor(type: T, data: TensorDataTypeMap[T] | readonly (number | bigint | boolean | string)[], dims?: readonly number[]);
  constructor(data: TensorDataTypeMap[T] | readonly boolean[], dims?: readonly number[]);
  constructor(typeOrData: unknown, dataOrDims?: unknown, maybeDims?: unknown) {
    if (typeOrData === fromDevice) {
      const handle = dataOrDims as DeviceHandle;
      const [code, dims, name, id] = handle.describe();
      this.type = typeName(code) as T;
      this.dims = Object.freeze(dims);
      this.size = dims.reduce((a, b) => a * b, 1);
      this.location = name.toLowerCase() === 'cpu' ? 'cpu' : 'cuda';
      this.deviceId = id;
      this.#device = handle;
      lock(this, new.target);
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
    this.type = type as T;
    this.#data = data as TensorDataTypeMap[T];
    this.dims = checked.dims;
    this.size = checked.size;
    this.location = 'cpu';
    this.deviceId = undefined;
    lock(this, new.target);
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

  /** The data, in CPU memory. A device tensor has none here: use `await getData()`. */
  get data(): TensorDataTypeMap[T] {
    if (this.#data === undefined) {
      throw new TypeError(`this Tensor lives in ${this.location} memory (device ${this.deviceId}): read it with await tensor.getData()`);
    }
    return this.#data;
  }

  /** The data in CPU memory: itself for a CPU tensor, a copy from the device for a device tensor. */
  async getData(): Promise<TensorDataTypeMap[T]> {
    if (this.#data !== undefined) return this.#data;
    if (!this.#device) throw new TypeError('this device tensor was released');
    return (await this.#device.download())[1] as TensorDataTypeMap[T];
  }

  /** Frees a device tensor's memory now rather than at garbage collection. No-op for CPU tensors. */
  release(): void {
    this.#device?.release();
    this.#device = undefined;
  }

  /** onnxruntime-common's name for release(). */
  dispose(): void {
    this.release();
  }

  /** onnxruntime-common's name for location. */
  get dataLocation(): TensorLocation {
    return this.location;
  }

  /** onnxruntime-common's: the data when it is in CPU memory, else undefined (no throw). */
  get cpuData(): TensorDataTypeMap[T] | undefined {
    return this.#data;
  }

  /**
   * onnxruntime-common's: a tensor over a buffer in pinned CPU memory. Node.js has no pinned
   * memory of its own, so this is a CPU tensor over `buffer` (as in onnxruntime-node).
   */
  static fromPinnedBuffer<T extends Exclude<TensorType, 'string'>>(type: T, buffer: TensorDataTypeMap[T], dims?: readonly number[]): Tensor<T> {
    return new Tensor(type, buffer, dims);
  }

  /** @internal The addon's handle of a device tensor. */
  get _device(): DeviceHandle | undefined {
    return this.#device;
  }

  /** A tensor over the same data with other dims of the same size. */
  reshape(dims: readonly number[]): Tensor<T> {
    return new Tensor(this.type, this.data, dims);
  }

  toString(): string {
    return `Tensor(${this.type}, [${this.dims.join(',')}]${this.location === 'cpu' ? '' : `, ${this.location}:${this.deviceId}`})`;
  }
}

/**
 * Freezes a tensor: a later assignment to its dims, size or type would have ONNX Runtime read past
 * its data. (Private fields stay writable.) A subclass adds its own fields after this constructor
 * returns, so its instances are left for it to freeze.
 */
function lock(tensor: Tensor, target: unknown): void {
  if (target === Tensor) Object.freeze(tensor);
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

