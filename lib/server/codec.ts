// codec.ts: v2 tensors (JSON `data`, Triton's binary extension, gRPC contents) <-> ort-napi Tensors.
import { Tensor, type TensorType } from '../index.js';
import { dimsText } from '../validate.js';
import { invalidArgument, ServerError } from './errors.js';

export type Datatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES' | 'BF16';

interface DatatypeInfo {
  type: TensorType;
  /** Bytes per element in raw (binary) form; 0 for BYTES, whose elements carry their lengths. */
  size: number;
  /** The integer range JSON values must fall in, for the integer types. */
  range?: [number | bigint, number | bigint];
}

const DATATYPES: Readonly<Record<Datatype, DatatypeInfo>> = {
  BOOL: { type: 'bool', size: 1 },
  UINT8: { type: 'uint8', size: 1, range: [0, 255] },
  UINT16: { type: 'uint16', size: 2, range: [0, 65535] },
  UINT32: { type: 'uint32', size: 4, range: [0, 4294967295] },
  UINT64: { type: 'uint64', size: 8, range: [0n, 18446744073709551615n] },
  INT8: { type: 'int8', size: 1, range: [-128, 127] },
  INT16: { type: 'int16', size: 2, range: [-32768, 32767] },
  INT32: { type: 'int32', size: 4, range: [-2147483648, 2147483647] },
  INT64: { type: 'int64', size: 8, range: [-9223372036854775808n, 9223372036854775807n] },
  FP16: { type: 'float16', size: 2 },
  FP32: { type: 'float32', size: 4 },
  FP64: { type: 'float64', size: 8 },
  BYTES: { type: 'string', size: 0 },
  BF16: { type: 'bfloat16', size: 2 },
};

const BY_TYPE = new Map<string, Datatype>(Object.entries(DATATYPES).map(([d, info]) => [info.type, d as Datatype]));

/** The v2 datatype of an ONNX element type, or undefined for those v2 has none for (float8, int4). */
export function datatypeOf(type: string): Datatype | undefined {
  return BY_TYPE.get(type);
}

function info(what: string, datatype: unknown): DatatypeInfo {
  if (typeof datatype !== 'string' || !Object.hasOwn(DATATYPES, datatype)) {
    throw invalidArgument(`${what}: datatype ${brief(datatype)} is not a v2 datatype (${Object.keys(DATATYPES).join(', ')})`);
  }
  return DATATYPES[datatype as Datatype];
}

/** Checks a v2 shape and returns its element count. */
export function checkShape(what: string, shape: unknown): number {
  if (!Array.isArray(shape)) throw invalidArgument(`${what}: shape must be an array of non-negative integers, got ${brief(shape)}`);
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw invalidArgument(`${what}: shape[${i}] must be a non-negative integer, got ${brief(d)}`);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw invalidArgument(`${what}: shape ${dimsText(shape)} has too many elements`);
  return count;
}

/**
 * A value from a request, shortened for an error message: at most three levels and eight elements a
 * level are looked at, so that a huge or deeply nested value (the body limit allows millions of
 * levels) costs no more to describe than a small one and makes no message longer than ~40 characters.
 */
export function brief(value: unknown): string {
  const text = sketch(value, 3);
  return text.length > BRIEF ? `${text.slice(0, BRIEF)}...` : text;
}

const BRIEF = 40;
const SKETCH_ELEMENTS = 8;

function sketch(value: unknown, levels: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > BRIEF ? value.slice(0, BRIEF + 1) : value);
    case 'bigint':
      return `${value}n`;
    case 'object':
      break;
    default:
      return String(value); // numbers, booleans, undefined
  }
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value) || Array.isArray(value)) {
    const list = value as ArrayLike<unknown>;
    if (levels === 0) return list.length === 0 ? '[]' : '[...]';
    const shown: string[] = [];
    for (let i = 0; i < list.length && i < SKETCH_ELEMENTS; i++) shown.push(sketch(list[i], levels - 1));
    if (list.length > SKETCH_ELEMENTS) shown.push('...');
    return `[${shown.join(',')}]`;
  }
  const keys = Object.keys(value);
  if (levels === 0) return keys.length === 0 ? '{}' : '{...}';
  const shown = keys.slice(0, SKETCH_ELEMENTS).map((k) => `${sketch(k, 0)}:${sketch((value as Record<string, unknown>)[k], levels - 1)}`);
  if (keys.length > SKETCH_ELEMENTS) shown.push('...');
  return `{${shown.join(',')}}`;
}

/** A name from a request, for a message: `'x'` as the model names it, or shortened when it is no short string. */
export function quoted(name: unknown): string {
  return typeof name === 'string' && name.length <= BRIEF ? `'${name}'` : brief(name);
}

// ---- 16-bit floats: IEEE half and bfloat16 as the bit patterns ONNX Runtime reads.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A number as IEEE 754 half bits, rounded to nearest even. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf, NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++; // a carry into the exponent is right, up to Inf
  return sign | half;
}

/** IEEE 754 half bits as a number. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** A number as bfloat16 bits (the top half of its float32), rounded to nearest even. */
export function toBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if (Number.isNaN(value)) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBfloat16(bits: number): number {
  u32[0] = bits << 16;
  return f32[0];
}

// ---- JSON

/**
 * A JSON tensor's data, flattened: v2 allows nested arrays in row-major order. The native JSON
 * reader gives an input's array of numbers as a flat Float64Array already. Flattened with a stack of
 * its own, not Array.prototype.flat, whose recursion a deeply nested body overflows; as the native
 * reader does, any nesting is taken (the element count is checked against the shape after).
 */
function flatten(what: string, data: unknown): ArrayLike<unknown> {
  if (data instanceof Float64Array) return data;
  if (!Array.isArray(data)) throw invalidArgument(`${what}: data must be an array, got ${brief(data)}`);
  let nested = false;
  for (let i = 0; i < data.length && !nested; i++) nested = Array.isArray(data[i]);
  if (!nested) return data;
  const out: unknown[] = [];
  const arrays: unknown[][] = [data];
  const next: number[] = [0];
  while (arrays.length > 0) {
    const top = arrays.length - 1;
    const array = arrays[top];
    const i = next[top];
    if (i === array.length) {
      arrays.pop();
      next.pop();
      continue;
    }
    next[top] = i + 1;
    const value = array[i];
    if (Array.isArray(value)) {
      arrays.push(value);
      next.push(0);
    } else {
      out.push(value);
    }
  }
  return out;
}

/** A tensor from a v2 JSON input (`data` row-major, flat or nested). */
export function fromJson(what: string, datatype: unknown, shape: unknown, data: unknown): Tensor {
  const dt = info(what, datatype);
  const count = checkShape(what, shape);
  const values = flatten(what, data);
  const dims = shape as number[];
  if (values.length !== count) {
    throw invalidArgument(`${what}: data has ${values.length} elements but shape ${dimsText(dims)} needs ${count}`);
  }
  const bad = (i: number, want: string) => invalidArgument(`${what} (${datatype}): data[${i}] is ${brief(values[i])}, not ${want}`);
  switch (dt.type) {
    case 'string': {
      for (let i = 0; i < count; i++) if (typeof values[i] !== 'string') throw bad(i, 'a string');
      return new Tensor('string', values as string[], dims);
    }
    case 'bool': {
      const out = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        const v = values[i];
        if (typeof v !== 'boolean') throw bad(i, 'true or false');
        out[i] = v ? 1 : 0;
      }
      return new Tensor('bool', out, dims);
    }
    case 'float32':
    case 'float64': {
      const out = dt.type === 'float32' ? new Float32Array(count) : new Float64Array(count);
      if (values instanceof Float64Array) {
        out.set(values); // numbers all: converted in one call
        return new Tensor(dt.type, out, dims);
      }
      for (let i = 0; i < count; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw bad(i, 'a number');
        out[i] = v;
      }
      return new Tensor(dt.type, out, dims);
    }
    case 'float16':
    case 'bfloat16': {
      const out = new Uint16Array(count);
      const convert = dt.type === 'float16' ? toHalf : toBfloat16;
      for (let i = 0; i < count; i++) {
        const v = values[i];
        if (typeof v !== 'number') throw bad(i, 'a number');
        out[i] = convert(v);
      }
      return new Tensor(dt.type, out, dims);
    }
    case 'int64':
    case 'uint64': {
      const out = dt.type === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
      const [lo, hi] = dt.range as [bigint, bigint];
      const want = `an integer in [${lo}, ${hi}]`;
      for (let i = 0; i < count; i++) {
        const v = values[i];
        let n: bigint;
        // Numbers as Triton takes them; decimal strings too, for values past 2^53 that JSON numbers lose.
        if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
        else if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) n = BigInt(v);
        else throw bad(i, want);
        if (n < lo || n > hi) throw bad(i, want);
        out[i] = n;
      }
      return new Tensor(dt.type, out, dims);
    }
    default: {
      const Array_ = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int8: Int8Array, int16: Int16Array, int32: Int32Array }[dt.type as 'uint8'];
      const out = new Array_(count);
      const [lo, hi] = dt.range as [number, number];
      for (let i = 0; i < count; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(i, `an integer in [${lo}, ${hi}]`);
        out[i] = v;
      }
      return new Tensor(dt.type, out, dims);
    }
  }
}

/** A tensor's elements as JSON values: numbers (int64 too, as Triton writes them), booleans, strings. */
export function toJsonData(tensor: Tensor): unknown[] {
  const data = tensor.data;
  if (tensor.type === 'string') return data as string[];
  const source = data as ArrayLike<number | bigint>;
  const n = source.length;
  const out = new Array(n);
  // Plain loops: Array.from over a TypedArray goes through its iterator, several times slower.
  switch (tensor.type) {
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = source[i] !== 0;
      break;
    case 'float16':
      for (let i = 0; i < n; i++) out[i] = fromHalf(source[i] as number);
      break;
    case 'bfloat16':
      for (let i = 0; i < n; i++) out[i] = fromBfloat16(source[i] as number);
      break;
    case 'int64':
    case 'uint64':
      for (let i = 0; i < n; i++) out[i] = Number(source[i]);
      break;
    default:
      for (let i = 0; i < n; i++) out[i] = source[i];
  }
  return out;
}

// ---- Binary: Triton's binary tensor extension and gRPC raw contents (row-major, little-endian)

/** A tensor from raw bytes; typed data is viewed in place when aligned, else copied once. */
export function fromBinary(what: string, datatype: unknown, shape: unknown, bytes: Uint8Array): Tensor {
  const dt = info(what, datatype);
  const count = checkShape(what, shape);
  const dims = shape as number[];
  if (dt.type === 'string') return new Tensor('string', readStrings(what, bytes, count), dims);
  const need = count * dt.size;
  if (bytes.byteLength !== need) {
    throw invalidArgument(`${what} (${datatype}): ${bytes.byteLength} bytes of binary data but shape ${dimsText(dims)} needs ${need} (${count} x ${dt.size})`);
  }
  if (dt.type === 'bool') {
    for (let i = 0; i < count; i++) if (bytes[i] > 1) throw invalidArgument(`${what} (BOOL): byte ${i} is ${bytes[i]}, not 0 or 1`);
  }
  const Ctor = { bool: Uint8Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array, float16: Uint16Array, float32: Float32Array, float64: Float64Array, bfloat16: Uint16Array }[dt.type as 'uint8'];
  const aligned = bytes.byteOffset % dt.size === 0;
  const source = aligned ? bytes : new Uint8Array(bytes); // a copy (Buffer.slice would be a view)
  return new Tensor(dt.type, new Ctor(source.buffer as ArrayBuffer, source.byteOffset, count) as never, dims);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** BYTES elements: each a 4-byte little-endian length, then that many bytes (here: UTF-8 text). */
function readStrings(what: string, bytes: Uint8Array, count: number): string[] {
  const out: string[] = new Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength) throw invalidArgument(`${what} (BYTES): binary data ends at element ${i} of ${count} (each element is a 4-byte length, then its bytes)`);
    const length = view.getUint32(at, true);
    at += 4;
    if (at + length > bytes.byteLength) throw invalidArgument(`${what} (BYTES): element ${i} claims ${length} bytes but only ${bytes.byteLength - at} remain`);
    try {
      out[i] = decoder.decode(bytes.subarray(at, at + length));
    } catch {
      throw invalidArgument(`${what} (BYTES): element ${i} is not UTF-8 text (ort-napi holds BYTES as strings)`);
    }
    at += length;
  }
  if (at !== bytes.byteLength) throw invalidArgument(`${what} (BYTES): ${bytes.byteLength - at} bytes left over after its ${count} elements`);
  return out;
}

/** A tensor's elements as raw bytes: a view over its memory, or length-prefixed UTF-8 for strings. */
export function toBinary(tensor: Tensor): Buffer {
  if (tensor.type === 'string') {
    const strings = tensor.data as string[];
    const encoded = strings.map((s) => Buffer.from(s, 'utf8'));
    const out = Buffer.allocUnsafe(encoded.reduce((n, b) => n + 4 + b.byteLength, 0));
    let at = 0;
    for (const b of encoded) {
      out.writeUInt32LE(b.byteLength, at);
      b.copy(out, at + 4);
      at += 4 + b.byteLength;
    }
    return out;
  }
  const data = tensor.data as ArrayBufferView;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The v2 datatype of an output, or an error naming the type v2 cannot carry. */
export function outputDatatype(name: string, tensor: Tensor): Datatype {
  const datatype = datatypeOf(tensor.type);
  if (!datatype) throw new ServerError('INTERNAL', `output '${name}' has element type '${tensor.type}', which has no v2 datatype`);
  return datatype;
}

/** gRPC InferTensorContents (typed repeated fields) for one input: the field its datatype uses. */
export function fromContents(what: string, datatype: unknown, shape: unknown, contents: Record<string, unknown[]>): Tensor {
  const dt = info(what, datatype);
  const field = ({ bool: 'bool_contents', uint8: 'uint_contents', uint16: 'uint_contents', uint32: 'uint_contents', uint64: 'uint64_contents', int8: 'int_contents', int16: 'int_contents', int32: 'int_contents', int64: 'int64_contents', float32: 'fp32_contents', float64: 'fp64_contents', string: 'bytes_contents' } as Record<string, string>)[dt.type];
  if (!field) throw invalidArgument(`${what}: ${datatype} has no typed contents field; send it in raw_input_contents`);
  let values = contents[field] ?? [];
  if (values.length === 0) {
    // proto3 decodes every repeated field, empty where the client set none: a filled one elsewhere is the mistake.
    const filled = Object.keys(contents).filter((k) => Array.isArray(contents[k]) && contents[k].length > 0);
    if (filled.length > 0) throw invalidArgument(`${what}: ${datatype} takes contents.${field}, but the request filled ${filled.map((k) => `contents.${k}`).join(', ')}`);
  }
  if (dt.type === 'string') {
    const count = checkShape(what, shape);
    if (values.length !== count) throw invalidArgument(`${what}: contents.bytes_contents has ${values.length} elements but shape ${dimsText(shape as number[])} needs ${count}`);
    try {
      values = values.map((b) => decoder.decode(b as Uint8Array));
    } catch {
      throw invalidArgument(`${what} (BYTES): an element is not UTF-8 text (ort-napi holds BYTES as strings)`);
    }
  }
  return fromJson(`${what} contents.${field}`, datatype, shape, values);
}
