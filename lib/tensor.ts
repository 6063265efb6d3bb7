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
}

export type TensorType = keyof TensorDataTypeMap;
export type TensorData = TensorDataTypeMap[TensorType];
type TypedArrayConstructor = { new (length: number): ArrayBufferView & ArrayLike<unknown>; from(items: Iterable<unknown>): unknown };

interface ElementType {
  readonly code: number; // ONNXTensorElementDataType
  readonly array: TypedArrayConstructor | null; // null: string
  readonly bigint: boolean;
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
};

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

function checkDims(dims: unknown, length: number): { dims: readonly number[]; size: number } {
  if (!Array.isArray(dims)) throw invalid('Tensor dims', 'an array of non-negative integers', dims);
  let size = 1;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw outOfRange(`Tensor dims[${i}]`, 'a non-negative integer', d);
    }
    size *= d;
  }
  if (size !== length) {
    throw new RangeError(`Tensor data has ${length} elements but dims [${dims.join(',')}] need ${size}`);
  }
  return { dims: Object.freeze(dims.slice()), size };
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

/** A tensor in CPU memory: an element type, its data and its dims (onnxruntime-common's shape). */
export class Tensor<T extends TensorType = TensorType> {
  readonly type: T;
  readonly data: TensorDataTypeMap[T];
  readonly dims: readonly number[];
  readonly size: number;
  readonly location = 'cpu' as const;

  constructor(type: T, data: TensorDataTypeMap[T] | readonly (number | bigint | boolean | string)[], dims?: readonly number[]);
  constructor(data: TensorDataTypeMap[T] | readonly boolean[], dims?: readonly number[]);
  constructor(typeOrData: unknown, dataOrDims?: unknown, maybeDims?: unknown) {
    let type: TensorType;
    let rawData: unknown;
    let dims: unknown;
    if (typeof typeOrData === 'string') {
      if (!(typeOrData in ELEMENT_TYPES)) {
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
    const checked = checkDims(dims ?? [data.length], data.length);
    this.type = type as T;
    this.data = data as TensorDataTypeMap[T];
    this.dims = checked.dims;
    this.size = checked.size;
  }

  /** A tensor over the same data with other dims of the same size. */
  reshape(dims: readonly number[]): Tensor<T> {
    return new Tensor(this.type, this.data, dims);
  }

  toString(): string {
    return `Tensor(${this.type}, [${this.dims.join(',')}])`;
  }
}

/** True when `data` can no longer be read: its ArrayBuffer was detached (transferred or resized away). */
export function isDetached(data: TensorData): boolean {
  if (Array.isArray(data)) return false;
  const buffer = (data as ArrayBufferView).buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  return buffer.byteLength === 0 && (data as ArrayBufferView).byteLength === 0;
}

