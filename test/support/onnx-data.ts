// onnx-data.ts: reads ONNX's test data files (TensorProto, SequenceProto, MapProto, OptionalProto)
// into ort-napi values. onnx-data.proto's messages are decoded here by hand: a small protobuf reader.
import { Tensor, type Ort } from './ort.js';

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  key(): [number, number] {
    const k = Number(this.varint());
    return [k >>> 3, k & 7];
  }
  bytes(): Uint8Array {
    const n = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`protobuf wire type ${wire} not handled`);
  }
}

/** Repeated scalar fields may come packed (wire 2) or one by one. */
function repeated(r: Reader, wire: number, one: (r: Reader) => number | bigint, out: (number | bigint)[]): void {
  if (wire !== 2) {
    out.push(one(r));
    return;
  }
  const inner = new Reader(r.bytes());
  while (!inner.done) out.push(one(inner));
}

const f32 = (r: Reader) => {
  const v = new DataView(r.buf.buffer, r.buf.byteOffset + r.pos, 4).getFloat32(0, true);
  r.pos += 4;
  return v;
};
const f64 = (r: Reader) => {
  const v = new DataView(r.buf.buffer, r.buf.byteOffset + r.pos, 8).getFloat64(0, true);
  r.pos += 8;
  return v;
};

const TYPES: Record<number, Ort.TensorType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz',
  19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4',
};

const ARRAYS: Record<string, { new (n: number): ArrayLike<unknown>; BYTES_PER_ELEMENT: number }> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array, float16: Uint16Array,
  bfloat16: Uint16Array, float8e4m3fn: Uint8Array, float8e4m3fnuz: Uint8Array, float8e5m2: Uint8Array, float8e5m2fnuz: Uint8Array,
  uint4: Uint8Array, int4: Uint8Array,
};

export function readTensor(bytes: Uint8Array): Ort.Tensor {
  const r = new Reader(bytes);
  const dims: (number | bigint)[] = [];
  const numbers: (number | bigint)[] = [];
  const strings: string[] = [];
  let code = 0;
  let raw: Uint8Array | undefined;
  const decoder = new TextDecoder();
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 1) repeated(r, wire, (x) => x.varint(), dims);
    else if (field === 2) code = Number(r.varint());
    else if (field === 4) repeated(r, wire, f32, numbers);
    else if (field === 5) repeated(r, wire, (x) => Number(BigInt.asIntN(32, x.varint())), numbers);
    else if (field === 6) strings.push(decoder.decode(r.bytes()));
    else if (field === 7) repeated(r, wire, (x) => BigInt.asIntN(64, x.varint()), numbers);
    else if (field === 9) raw = r.bytes();
    else if (field === 10) repeated(r, wire, f64, numbers);
    else if (field === 11) repeated(r, wire, (x) => BigInt.asUintN(64, x.varint()), numbers);
    else r.skip(wire);
  }
  const type = TYPES[code];
  if (!type) throw new Error(`TensorProto data type ${code} is not one ort-napi reads`);
  const shape = dims.map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  if (type === 'string') return new Tensor('string', strings, shape);
  const Array_ = ARRAYS[type];
  const length = type === 'int4' || type === 'uint4' ? Math.ceil(size / 2) : size;
  let data: ArrayLike<unknown>;
  if (raw) {
    const copy = new Uint8Array(length * Array_.BYTES_PER_ELEMENT); // aligned
    copy.set(raw.subarray(0, copy.length));
    data = new (Array_ as unknown as new (b: ArrayBuffer) => ArrayLike<unknown>)(copy.buffer);
  } else {
    const out = new Array_(length) as unknown as { [i: number]: unknown };
    numbers.slice(0, length).forEach((v, i) => (out[i] = typeof (out as unknown as BigInt64Array)[0] === 'bigint' ? BigInt(v) : Number(v)));
    data = out as unknown as ArrayLike<unknown>;
  }
  return new Tensor(type, data as never, shape);
}

export function readSequence(bytes: Uint8Array): Ort.OnnxValue[] {
  const r = new Reader(bytes);
  const items: Ort.OnnxValue[] = [];
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 3) items.push(readTensor(r.bytes()));
    else if (field === 5) items.push(readSequence(r.bytes()));
    else if (field === 6) items.push(readMap(r.bytes()));
    else if (field === 7) items.push(readOptional(r.bytes()));
    else r.skip(wire);
  }
  return items;
}

export function readMap(bytes: Uint8Array): Map<string | bigint, number | bigint | string | boolean> {
  const r = new Reader(bytes);
  const keys: (bigint | string)[] = [];
  let values: Ort.OnnxValue[] = [];
  const decoder = new TextDecoder();
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 3) repeated(r, wire, (x) => BigInt.asIntN(64, x.varint()), keys as bigint[]);
    else if (field === 4) keys.push(decoder.decode(r.bytes()));
    else if (field === 5) values = readSequence(r.bytes());
    else r.skip(wire);
  }
  const flat = values.flatMap((v) => Array.from((v as Ort.Tensor).data as ArrayLike<number | bigint | string>));
  return new Map(keys.map((k, i) => [k, flat[i]]));
}

export function readOptional(bytes: Uint8Array): Ort.OnnxValue {
  const r = new Reader(bytes);
  let value: Ort.OnnxValue = null;
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 3) value = readTensor(r.bytes());
    else if (field === 5) value = readSequence(r.bytes());
    else if (field === 6) value = readMap(r.bytes());
    else if (field === 7) value = readOptional(r.bytes());
    else r.skip(wire);
  }
  return value;
}

/** Reads a test data file as the kind of value `type` says it holds. */
export function readValue(bytes: Uint8Array, type: Ort.TypeInfo): Ort.OnnxValue {
  switch (type.kind) {
    case 'sequence':
      return readSequence(bytes);
    case 'map':
      return readMap(bytes);
    case 'optional':
      return readOptional(bytes);
    default:
      return readTensor(bytes);
  }
}
