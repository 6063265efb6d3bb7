// onnx.ts: a small ONNX ModelProto writer (protobuf by hand), so tests and benchmarks build their own models.

/** ONNX TensorProto.DataType codes (the same numbers as ONNXTensorElementDataType). */
export const DataType = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9,
  float16: 10, float64: 11, uint32: 12, uint64: 13, bfloat16: 16,
  float8e4m3fn: 17, float8e4m3fnuz: 18, float8e5m2: 19, float8e5m2fnuz: 20, uint4: 21, int4: 22,
} as const;
export type ElemType = keyof typeof DataType;

/** A dim: a number is fixed, a string is symbolic, null is unknown; an object adds an ONNX denotation. */
export type Dim = number | string | null | { param: string; denotation: string };
/**
 * A tensor value, or built around one: `map` makes it a map from that key type to this tensor type,
 * `sequence` a sequence of it (of the map, if both), `optional` an optional of the result.
 */
export interface ValueSpec { name: string; type: ElemType; /** undefined: no shape at all (any rank) */ dims: Dim[] | undefined; sequence?: boolean; map?: ElemType; optional?: boolean }
export interface TensorSpec {
  name?: string;
  type: ElemType;
  dims: number[];
  data: ArrayBufferView | string[];
  /** Store the data in an external file instead: the caller writes `data` there at `offset`. */
  external?: { location: string; offset: number };
}
export type Attribute =
  | { i: number } | { f: number } | { s: string } | { ints: number[] } | { floats: number[] } | { strings: string[] } | { t: TensorSpec }
  | { g: GraphSpec };
/** A graph: the model's main one, or a subgraph attribute (If's branches, Loop's body), which may use outer names. */
export interface GraphSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: (TensorSpec & { name: string })[];
  graphName?: string;
  graphDocString?: string;
}
export interface NodeSpec { op: string; inputs: string[]; outputs: string[]; name?: string; domain?: string; attributes?: Record<string, Attribute> }
export interface ModelSpec extends GraphSpec {
  opset?: number;
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  metadata?: Record<string, string>;
  /** Operator sets beyond the default domain's: `[{ domain: 'ai.onnx.ml', version: 3 }]`. */
  opsets?: { domain: string; version: number }[];
}

const encoder = new TextEncoder();

class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.buf[this.len++] = byte;
    } while (v !== 0n);
    return this;
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.key(field, 0);
    return this.varint(value);
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer).setFloat32(this.len, value, true);
    this.len += 4;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, encoder.encode(value));
  }

  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeTensor(w: Writer, t: TensorSpec): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, DataType[t.type]);
  if (t.name !== undefined) w.string(8, t.name);
  if (t.external) {
    const view = t.data as ArrayBufferView;
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(view.byteLength)],
    ];
    for (const [key, value] of entries) w.message(13, (e) => e.string(1, key).string(2, value));
    w.int(14, 1); // data_location: EXTERNAL
  } else if (Array.isArray(t.data)) {
    for (const s of t.data) w.string(6, s); // string_data
  } else {
    const view = t.data as ArrayBufferView;
    w.bytes(9, new Uint8Array(view.buffer, view.byteOffset, view.byteLength)); // raw_data, little-endian
  }
}

function writeValueInfo(w: Writer, v: ValueSpec): void {
  w.string(1, v.name);
  // TypeProto: tensor_type = 1, sequence_type = 4, map_type = 5, optional_type = 9.
  let type = new Writer().message(1, (tensor) => {
    tensor.int(1, DataType[v.type]);
    if (v.map !== undefined || v.dims === undefined) return; // no shape: any rank (a map's values have none)
    tensor.message(2, (shape) => {
      for (const d of v.dims!) {
        shape.message(1, (dim) => {
          if (typeof d === 'number') dim.int(1, d);
          else if (typeof d === 'string') dim.string(2, d);
          else if (d !== null) dim.string(2, d.param).string(3, d.denotation);
        });
      }
    });
  }).finish();
  if (v.map !== undefined) type = new Writer().message(5, (m) => m.int(1, DataType[v.map!]).bytes(2, type)).finish();
  if (v.sequence) type = new Writer().message(4, (s) => s.bytes(1, type)).finish();
  if (v.optional) type = new Writer().message(9, (s) => s.bytes(1, type)).finish();
  w.bytes(2, type);
}

function writeAttribute(w: Writer, name: string, a: Attribute): void {
  w.string(1, name);
  if ('i' in a) w.int(3, a.i).int(20, 2);
  else if ('f' in a) w.float(2, a.f).int(20, 1);
  else if ('s' in a) w.bytes(4, encoder.encode(a.s)).int(20, 3);
  else if ('t' in a) w.message(5, (t) => writeTensor(t, a.t)).int(20, 4);
  else if ('g' in a) w.message(6, (g) => writeGraph(g, a.g)).int(20, 5);
  else if ('floats' in a) {
    for (const f of a.floats) w.float(7, f);
    w.int(20, 6);
  } else if ('strings' in a) {
    for (const s of a.strings) w.bytes(9, encoder.encode(s));
    w.int(20, 8);
  } else {
    for (const i of a.ints) w.int(8, i);
    w.int(20, 7);
  }
}

function writeGraph(g: Writer, spec: GraphSpec): void {
  spec.nodes.forEach((n, i) =>
    g.message(1, (node) => {
      for (const input of n.inputs) node.string(1, input);
      for (const output of n.outputs) node.string(2, output);
      node.string(3, n.name ?? `${n.op}_${i}`);
      node.string(4, n.op);
      for (const [name, a] of Object.entries(n.attributes ?? {})) node.message(5, (attr) => writeAttribute(attr, name, a));
      if (n.domain !== undefined) node.string(7, n.domain);
    }),
  );
  g.string(2, spec.graphName ?? 'graph');
  for (const init of spec.initializers ?? []) g.message(5, (t) => writeTensor(t, init));
  if (spec.graphDocString !== undefined) g.string(10, spec.graphDocString);
  for (const input of spec.inputs) g.message(11, (v) => writeValueInfo(v, input));
  for (const output of spec.outputs) g.message(12, (v) => writeValueInfo(v, output));
}

/** Serialises a model with one graph. Opset 17 of the default domain unless told. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const w = new Writer();
  w.int(1, spec.irVersion ?? 8);
  if (spec.producerName !== undefined) w.string(2, spec.producerName);
  if (spec.producerVersion !== undefined) w.string(3, spec.producerVersion);
  if (spec.domain !== undefined) w.string(4, spec.domain);
  if (spec.modelVersion !== undefined) w.int(5, spec.modelVersion);
  if (spec.docString !== undefined) w.string(6, spec.docString);
  w.message(7, (g) => writeGraph(g, spec));
  w.message(8, (o) => o.string(1, '').int(2, spec.opset ?? 17));
  for (const extra of spec.opsets ?? []) w.message(8, (o) => o.string(1, extra.domain).int(2, extra.version));
  for (const [key, value] of Object.entries(spec.metadata ?? {})) w.message(14, (e) => e.string(1, key).string(2, value));
  return w.finish();
}

/** input -> op -> output, for one-node models (Identity, Neg, ...). */
export function unaryModel(op: string, type: ElemType, dims: Dim[], attributes?: Record<string, Attribute>): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type, dims }],
    outputs: [{ name: 'y', type, dims }],
    nodes: [{ op, inputs: ['x'], outputs: ['y'], attributes }],
  });
}
