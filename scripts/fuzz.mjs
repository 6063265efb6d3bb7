#!/usr/bin/env node
// fuzz.mjs: loads and runs mutated ONNX models through ort-napi, in child processes, and fails on
// any child that dies or hangs. A malformed model must end in an OrtError, TypeError or RangeError,
// never in a signal, a non-zero exit or a child that does not finish (--child-timeout).
//
//   node scripts/fuzz.mjs [--seed N] [--count N] [--start I] [--batch N] [--jobs N] [--max-seconds S]
//                         [--child-timeout S] [--seeds FILE|DIR,...] [--out DIR] [--json FILE] [--quiet]
//     defaults: a random seed (printed), 1000 models from index 0, 50 a child, min(cores, 4) children at once,
//     no time limit (--max-seconds: no new batch after S s), 60 s a child, the seed models in
//     test/fixtures/fuzz/ and test/fixtures/linear.onnx, failing models written to $TMPDIR/ort-napi-fuzz
//   node scripts/fuzz.mjs --seed N --index I [--out DIR]   writes model I of seed N, and runs it alone
//   node scripts/fuzz.mjs --replay FILE                    runs one model file alone
//
// Model I of seed N is a function of (N, I, the seed models) only, so a failure replays from the
// seed and index the summary prints. Needs dist/ (npm run build:ts); loads the package by its name,
// so ORT_NAPI_PREBUILD (node-gyp-build) picks the binary, as for the tests.
//
// Known ONNX Runtime crash, counted apart and not failed for: a Conv whose group attribute is 0
// divides by zero inside ONNX Runtime (SIGFPE; onnxruntime-node dies the same way). Under ASan
// (scripts/asan.sh) also an out-of-memory end inside ONNX Runtime: see isSanitizerOom.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const DEFAULT_SEEDS = [join(root, 'test', 'fixtures', 'fuzz'), join(root, 'test', 'fixtures', 'linear.onnx')];

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const args = {
    seed: undefined, count: 1000, start: 0, batch: 50, jobs: undefined, maxSeconds: Infinity, seeds: DEFAULT_SEEDS,
    out: join(tmpdir(), 'ort-napi-fuzz'), json: undefined, index: undefined, replay: undefined,
    child: false, from: 0, to: 0, childTimeout: 60, quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`${arg} needs a non-negative integer, got '${v}'`);
      return Number(v);
    };
    switch (arg) {
      case '--seed': args.seed = int() >>> 0; break;
      case '--count': args.count = int(); break;
      case '--start': args.start = int(); break;
      case '--batch': args.batch = Math.max(1, int()); break;
      case '--jobs': args.jobs = Math.max(1, int()); break;
      case '--max-seconds': args.maxSeconds = int(); break;
      case '--child-timeout': args.childTimeout = Math.max(1, int()); break;
      case '--seeds': args.seeds = value().split(',').filter(Boolean).map((p) => resolve(p)); break;
      case '--out': args.out = resolve(value()); break;
      case '--json': args.json = resolve(value()); break;
      case '--index': args.index = int(); break;
      case '--replay': args.replay = resolve(value()); break;
      case '--quiet': args.quiet = true; break;
      case '--child': args.child = true; break;
      case '--from': args.from = int(); break;
      case '--to': args.to = int(); break;
      case '--help': case '-h':
        console.log(readFileSync(self, 'utf8').split('\n').slice(1, 20).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
        process.exit(0);
        break;
      default: throw new Error(`unknown argument '${arg}' (see --help)`);
    }
  }
  return args;
}

// ---------------------------------------------------------------- seed models

function loadSeeds(paths) {
  const files = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`seed model path ${p} does not exist`);
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (f.endsWith('.onnx')) files.push(join(p, f));
    } else files.push(p);
  }
  if (files.length === 0) throw new Error(`no seed models (*.onnx) in ${paths.join(', ')}`);
  return files.map((f) => ({ name: basename(f), bytes: new Uint8Array(readFileSync(f)) }));
}

// ---------------------------------------------------------------- random numbers

function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32, seeded from (seed, index): model `index` never depends on the models before it. */
function rngFor(seed, index) {
  let state = mix32(seed ^ mix32(index + 0x9e3779b9)) || 1;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

// ---------------------------------------------------------------- protobuf, just enough

function readVarint(buf, pos, end) {
  let value = 0n;
  for (let shift = 0n, p = pos; p < end && shift < 70n; shift += 7n, p++) {
    value |= BigInt(buf[p] & 0x7f) << shift;
    if ((buf[p] & 0x80) === 0) return { value, next: p + 1 };
  }
  return undefined;
}

function encodeVarint(value, minBytes = 0) {
  let v = BigInt.asUintN(64, BigInt(value));
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n || out.length + 1 < minBytes) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n || out.length < minBytes);
  return Uint8Array.from(out);
}

/**
 * Walks a protobuf message, and every length-delimited field whose payload parses as one, into a
 * flat list of fields: { wire, keyPos, valuePos, width (of the varint or length prefix), value,
 * start and end (the payload, for wire type 2), extentEnd, parent (index, -1 at the top), message }.
 * Returns false where [start, end) is not a well-formed message (what it found is then dropped).
 */
function scanMessage(buf, start, end, parent, depth, fields) {
  const mark = fields.length;
  let p = start;
  while (p < end) {
    const keyPos = p;
    const key = readVarint(buf, p, end);
    if (!key || key.value >> 3n === 0n) return (fields.length = mark), false;
    const wire = Number(key.value & 7n);
    p = key.next;
    if (wire === 0) {
      const v = readVarint(buf, p, end);
      if (!v) return (fields.length = mark), false;
      fields.push({ wire, keyPos, valuePos: p, width: v.next - p, value: v.value, extentEnd: v.next, parent });
      p = v.next;
    } else if (wire === 1 || wire === 5) {
      p += wire === 1 ? 8 : 4;
      if (p > end) return (fields.length = mark), false;
      fields.push({ wire, keyPos, valuePos: key.next, width: 0, extentEnd: p, parent });
    } else if (wire === 2) {
      const l = readVarint(buf, p, end);
      if (!l || l.value > BigInt(end - l.next)) return (fields.length = mark), false;
      const len = Number(l.value);
      const field = { wire, keyPos, valuePos: p, width: l.next - p, value: len, start: l.next, end: l.next + len, extentEnd: l.next + len, parent, message: false };
      const index = fields.push(field) - 1;
      if (depth < 16 && len > 0) field.message = scanMessage(buf, field.start, field.end, index, depth + 1, fields);
      p = field.end;
    } else return (fields.length = mark), false;
  }
  return true;
}

function fieldsOf(buf) {
  const fields = [];
  scanMessage(buf, 0, buf.length, -1, 0, fields);
  return fields;
}

function splice(buf, pos, removed, inserted) {
  const out = new Uint8Array(buf.length - removed + inserted.length);
  out.set(buf.subarray(0, pos), 0);
  out.set(inserted, pos);
  out.set(buf.subarray(pos + removed), pos + inserted.length);
  return out;
}

/**
 * Replaces buf[from, to) with `bytes`, where the range lies inside the payload of fields[parent],
 * and rewrites the length prefix of that field and of every field around it, so that the message
 * stays well-formed. (The prefixes come before the range, so each rewrite leaves the next one's
 * position alone.)
 */
function replaceKeepingLengths(buf, fields, parent, from, to, bytes) {
  let out = splice(buf, from, to - from, bytes);
  let delta = bytes.length - (to - from);
  for (let a = parent; a >= 0 && delta !== 0; a = fields[a].parent) {
    const f = fields[a];
    const encoded = encodeVarint(f.value + delta);
    out = splice(out, f.valuePos, f.width, encoded);
    delta += encoded.length - f.width;
  }
  return out;
}

const EDGE_VALUES = [0n, 1n, 2n, 127n, 128n, 255n, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, -1n, -2n, -(2n ** 63n)];

/** A new value for a varint that held `value`: nearby, an edge, small and random, or scaled. */
function editedValue(rng, value, limit) {
  switch (rng.int(4)) {
    case 0: return value + BigInt(rng.int(9) - 4 || 1);
    case 1: return rng.pick(EDGE_VALUES);
    case 2: return BigInt(rng.int(limit + 1));
    default: return value === 0n ? 1n : rng.chance(0.5) ? value * 2n : value / 2n;
  }
}

const randomBytes = (rng, n) => Uint8Array.from({ length: n }, () => rng.int(256));

// ---------------------------------------------------------------- mutations

// Raw damage (truncate, flip, run, length) mostly stops the protobuf parser; the structure-aware
// mutations (varint, resize, leaf, drop, dup) keep the protobuf well-formed, so the model reaches
// ONNX Runtime's graph checks, shape inference, kernels, and ort-napi's metadata and value code.
const MUTATIONS = [
  {
    name: 'truncate', weight: 1,
    apply: (buf, rng) => buf.slice(0, rng.int(buf.length)),
  },
  {
    name: 'flip', weight: 1,
    apply: (buf, rng) => {
      const out = buf.slice();
      for (let k = 1 + rng.int(4); k > 0 && out.length > 0; k--) {
        const pos = rng.int(out.length);
        out[pos] = rng.chance(0.7) ? out[pos] ^ (1 << rng.int(8)) : rng.pick([0x00, 0xff, 0x80, 0x7f, 0x01]);
      }
      return out;
    },
  },
  {
    name: 'run', weight: 1,
    apply: (buf, rng) => {
      const pos = rng.int(buf.length + 1);
      const len = 1 + rng.int(32);
      switch (rng.int(3)) {
        case 0: return splice(buf, pos, Math.min(len, buf.length - pos), randomBytes(rng, len)); // overwrite
        case 1: return splice(buf, pos, 0, randomBytes(rng, len)); // insert
        default: return splice(buf, pos, Math.min(len, buf.length - pos), new Uint8Array(0)); // delete
      }
    },
  },
  {
    // A length prefix changed and nothing else: the payload no longer matches it.
    name: 'length', weight: 2,
    apply: (buf, rng, fields) => {
      const lengths = fields.filter((f) => f.wire === 2);
      if (lengths.length === 0) return MUTATIONS[1].apply(buf, rng);
      const f = rng.pick(lengths);
      const value = editedValue(rng, BigInt(f.value), buf.length - f.start);
      // Half the time keep the prefix's width (an over-long varint if need be), so only this length is off.
      return splice(buf, f.valuePos, f.width, encodeVarint(value, rng.chance(0.5) ? f.width : 0));
    },
  },
  {
    // An integer (dim, data type, attribute value, opset, ...) changed; the lengths around it follow.
    name: 'varint', weight: 5,
    apply: (buf, rng, fields) => {
      const varints = fields.filter((f) => f.wire === 0);
      if (varints.length === 0) return MUTATIONS[1].apply(buf, rng);
      const f = rng.pick(varints);
      const encoded = encodeVarint(editedValue(rng, f.value, 64));
      if (rng.chance(0.1)) return splice(buf, f.valuePos, f.width, encoded); // and sometimes they do not
      return replaceKeepingLengths(buf, fields, f.parent, f.valuePos, f.valuePos + f.width, encoded);
    },
  },
  {
    // A length-delimited field (raw_data, a name, a packed list, a submessage) grows or shrinks.
    name: 'resize', weight: 3,
    apply: (buf, rng, fields) => {
      const lengths = fields.filter((f) => f.wire === 2);
      if (lengths.length === 0) return MUTATIONS[1].apply(buf, rng);
      const f = rng.pick(lengths);
      const target = Math.max(0, Math.min(f.value + 4096, Number(BigInt.asUintN(32, editedValue(rng, BigInt(f.value), 2 * f.value + 8)))));
      const payload = buf.subarray(f.start, f.end);
      const grown = new Uint8Array(target);
      grown.set(payload.subarray(0, target));
      if (target > payload.length && rng.chance(0.5)) grown.set(randomBytes(rng, target - payload.length), payload.length);
      return replaceKeepingLengths(buf, fields, fields.indexOf(f), f.start, f.end, grown);
    },
  },
  {
    // Bytes inside a leaf payload (a name, an op type, tensor data) change; the structure stays.
    name: 'leaf', weight: 2,
    apply: (buf, rng, fields) => {
      const leaves = fields.filter((f) => f.wire === 2 && !f.message && f.value > 0);
      if (leaves.length === 0) return MUTATIONS[1].apply(buf, rng);
      const f = rng.pick(leaves);
      const out = buf.slice();
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const pos = f.start + rng.int(f.value);
        out[pos] = rng.chance(0.5) ? out[pos] ^ (1 << rng.int(8)) : rng.pick([0x00, 0xff, 0x30, 0x41, 0x2e, 0x2f]);
      }
      return out;
    },
  },
  {
    // A whole field (a node, an input, a dim, an attribute, an initializer) disappears.
    name: 'drop', weight: 2,
    apply: (buf, rng, fields) => {
      if (fields.length === 0) return MUTATIONS[1].apply(buf, rng);
      const f = rng.pick(fields);
      return replaceKeepingLengths(buf, fields, f.parent, f.keyPos, f.extentEnd, new Uint8Array(0));
    },
  },
  {
    // A whole field is repeated, next to itself or elsewhere in the same message.
    name: 'dup', weight: 2,
    apply: (buf, rng, fields) => {
      if (fields.length === 0) return MUTATIONS[1].apply(buf, rng);
      const f = rng.pick(fields);
      const copy = buf.slice(f.keyPos, f.extentEnd);
      const siblings = fields.filter((s) => s.parent === f.parent);
      const at = rng.chance(0.5) ? f.extentEnd : rng.pick(siblings).keyPos;
      return replaceKeepingLengths(buf, fields, f.parent, at, at, copy);
    },
  },
];
const TOTAL_WEIGHT = MUTATIONS.reduce((s, m) => s + m.weight, 0);

function chooseMutation(rng) {
  let r = rng.int(TOTAL_WEIGHT);
  for (const m of MUTATIONS) if ((r -= m.weight) < 0) return m;
  return MUTATIONS[0];
}

/** Model `index` of `seed`: a seed model with one to three mutations applied. */
function generate(seedModels, seed, index) {
  const rng = rngFor(seed, index);
  const base = rng.pick(seedModels);
  let bytes = base.bytes;
  const mutations = [];
  for (let k = 1 + (rng.chance(0.5) ? 0 : rng.int(3)); k > 0; k--) {
    const m = chooseMutation(rng);
    bytes = m.apply(bytes, rng, fieldsOf(bytes));
    mutations.push(m.name);
  }
  return { bytes, base: base.name, mutations };
}

// ---------------------------------------------------------------- the known ONNX Runtime crash

/** The repeated or single fields of one message: field number -> [{ wire, value | bytes }]. */
function parseFields(buf, start = 0, end = buf.length) {
  const fields = new Map();
  let p = start;
  while (p < end) {
    const key = readVarint(buf, p, end);
    if (!key) return undefined;
    const field = Number(key.value >> 3n);
    const wire = Number(key.value & 7n);
    p = key.next;
    let entry;
    if (wire === 0) {
      const v = readVarint(buf, p, end);
      if (!v) return undefined;
      entry = { wire, value: v.value };
      p = v.next;
    } else if (wire === 2) {
      const l = readVarint(buf, p, end);
      if (!l || l.value > BigInt(end - l.next)) return undefined;
      entry = { wire, start: l.next, end: l.next + Number(l.value) };
      p = entry.end;
    } else if (wire === 1 || wire === 5) {
      entry = { wire };
      p += wire === 1 ? 8 : 4;
    } else return undefined;
    if (!fields.has(field)) fields.set(field, []);
    fields.get(field).push(entry);
  }
  return p === end ? fields : undefined;
}

const decoder = new TextDecoder();
const CONV_OPS = new Set(['Conv', 'ConvInteger', 'QLinearConv', 'ConvTranspose', 'FusedConv', 'NhwcFusedConv']);

/** Whether a graph (GraphProto bytes) or its subgraphs hold a Conv whose group attribute is 0. */
function graphHasZeroGroupConv(buf, start, end, depth = 0) {
  const graph = parseFields(buf, start, end);
  if (!graph || depth > 8) return false;
  for (const nodeField of graph.get(1) ?? []) {
    if (nodeField.wire !== 2) continue;
    const node = parseFields(buf, nodeField.start, nodeField.end);
    if (!node) continue;
    const opField = (node.get(4) ?? []).find((f) => f.wire === 2);
    const op = opField ? decoder.decode(buf.subarray(opField.start, opField.end)) : '';
    for (const attrField of node.get(5) ?? []) {
      if (attrField.wire !== 2) continue;
      const attr = parseFields(buf, attrField.start, attrField.end);
      if (!attr) continue;
      const nameField = (attr.get(1) ?? []).find((f) => f.wire === 2);
      const name = nameField ? decoder.decode(buf.subarray(nameField.start, nameField.end)) : '';
      const i = (attr.get(3) ?? []).filter((f) => f.wire === 0).at(-1);
      if (CONV_OPS.has(op) && name === 'group' && i && BigInt.asIntN(64, i.value) === 0n) return true;
      for (const g of [...(attr.get(6) ?? []), ...(attr.get(11) ?? [])]) {
        if (g.wire === 2 && graphHasZeroGroupConv(buf, g.start, g.end, depth + 1)) return true;
      }
    }
  }
  return false;
}

function hasZeroGroupConv(bytes) {
  const model = parseFields(bytes);
  const graph = model && (model.get(7) ?? []).find((f) => f.wire === 2);
  return graph ? graphHasZeroGroupConv(bytes, graph.start, graph.end) : false;
}

function isKnownOrtCrash(bytes, ending) {
  return ending.signal === 'SIGFPE' && hasZeroGroupConv(bytes);
}

// ---------------------------------------------------------------- runs under AddressSanitizer (scripts/asan.sh)

/** The child's sanitizer report: its stderr, and the file ASan wrote where ASAN_OPTIONS has a log_path. */
function sanitizerText(ending) {
  const logPath = /(?:^|:)log_path=([^:]+)/.exec(process.env.ASAN_OPTIONS ?? '')?.[1];
  let log = '';
  if (logPath && ending.pid !== undefined) {
    try {
      log = readFileSync(`${logPath}.${ending.pid}`, 'utf8');
    } catch {
      // no report from that process
    }
  }
  return `${ending.stderr}\n${log}`;
}

/**
 * Under ASan a failed allocation in operator new ends the process ("allocator is out of memory")
 * where a normal build throws std::bad_alloc, which ONNX Runtime turns into an error. A mutated dim
 * makes ONNX Runtime ask for terabytes now and then; that is no crash of ours unless the addon's
 * own code made the request.
 */
function isSanitizerOom(ending) {
  const text = sanitizerText(ending);
  const at = text.search(/ERROR: AddressSanitizer: (allocator is out of memory|requested allocation size|allocation-size-too-big|out of memory)/);
  if (at < 0) return false;
  const stack = [];
  for (const line of text.slice(at).split('\n').slice(1)) {
    if (/#\d+ 0x[0-9a-f]+\s/.test(line)) stack.push(line);
    else if (stack.length > 0) break;
  }
  return !stack.some((f) => /ort_napi\.node|\/native\//.test(f));
}

// ---------------------------------------------------------------- the child: load and run models

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array, float16: Uint16Array, bfloat16: Uint16Array, float8e4m3fn: Uint8Array,
  float8e4m3fnuz: Uint8Array, float8e5m2: Uint8Array, float8e5m2fnuz: Uint8Array, int4: Uint8Array, uint4: Uint8Array,
};
const MAX_ELEMENTS = 1 << 20;

/** Zeros of each input's declared type and shape (symbolic dims = 1), or why the model is not run. */
function zeroFeeds(ort, metadata) {
  const feeds = {};
  for (const input of metadata) {
    if (input.kind === 'sequence') feeds[input.name] = [];
    else if (input.kind === 'map') feeds[input.name] = new Map();
    else if (input.kind === 'optional') feeds[input.name] = null;
    else if (input.kind === 'tensor') {
      const dims = input.unranked ? [1] : input.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
      const size = dims.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(size) || size > MAX_ELEMENTS) return { skip: `input '${input.name}' has ${size} elements` };
      let data;
      if (input.type === 'string') data = new Array(size).fill('');
      else if (ARRAYS[input.type]) data = new ARRAYS[input.type](input.type === 'int4' || input.type === 'uint4' ? Math.ceil(size / 2) : size);
      else return { skip: `input '${input.name}' has type ${input.type}` };
      feeds[input.name] = new ort.Tensor(input.type, data, dims);
    } else return { skip: `input '${input.name}' is a ${input.kind}` };
  }
  return { feeds };
}

/** Reads every output, the way a user would: data, dims, sequence and map entries. */
function touch(value, depth = 0) {
  if (value === null || value === undefined || depth > 8) return;
  if (Array.isArray(value)) for (const v of value) touch(v, depth + 1);
  else if (value instanceof Map) for (const [k, v] of value) touch(k, depth + 1), touch(v, depth + 1);
  else if (typeof value === 'object' && 'data' in value) {
    const data = value.data;
    if (data && data.length > 0) void data[data.length - 1];
    void value.dims;
  }
}

async function childMain(args) {
  const require = createRequire(join(root, 'package.json'));
  const ort = require('ort-napi');
  const expected = (e) => e instanceof ort.OrtError || e instanceof TypeError || e instanceof RangeError;
  const note = (outcome, e) => {
    outcome.error ??= e?.constructor?.name ?? typeof e;
    if (!expected(e)) outcome.unexpected ??= String(e?.stack ?? e).slice(0, 2000);
  };
  const seedModels = args.replay ? undefined : loadSeeds(args.seeds);
  const report = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  for (let i = args.from; i < args.to; i++) {
    const bytes = args.replay ? new Uint8Array(readFileSync(args.replay)) : generate(seedModels, args.seed, i).bytes;
    report({ i, state: 'start' });
    const outcome = { i, state: 'end' };
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 4 });
      outcome.loaded = true;
      // The metadata as a user reads it: names, types, shapes, the model's own strings.
      JSON.stringify([session.inputNames, session.outputNames, session.outputMetadata, session.modelMetadata]);
      const { feeds, skip } = zeroFeeds(ort, session.inputMetadata);
      if (skip) outcome.skipped = skip;
      else {
        // Both paths: run() on the addon's threads, then runSync() on this one.
        let ran = false;
        for (const run of [() => session.run(feeds), () => session.runSync(feeds)]) {
          try {
            const result = await run();
            for (const name of Object.keys(result)) touch(result[name]);
            ran = true;
          } catch (e) {
            note(outcome, e);
          }
        }
        outcome.ran = ran;
      }
    } catch (e) {
      note(outcome, e);
    } finally {
      if (session) await session.release().catch(() => undefined);
    }
    report(outcome);
  }
  globalThis.gc?.(); // the collector's finalizers (outputs' memory) run before the child says it is done
  await new Promise((r) => setImmediate(r));
  report({ done: true });
}

// ---------------------------------------------------------------- the parent: batches of children

function runChild(args, from, to, timeoutS, replay) {
  const childArgs = [
    '--expose-gc', self, '--child', '--from', String(from), '--to', String(to),
    ...(replay ? ['--replay', replay] : ['--seed', String(args.seed), '--seeds', args.seeds.join(',')]),
  ];
  return new Promise((resolveChild) => {
    const child = spawn(process.execPath, childArgs, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const outcomes = [];
    let done = false;
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let lastStarted;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      let nl;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        try {
          const o = JSON.parse(line);
          if (o.done) done = true;
          else if (o.state === 'start') lastStarted = o.i;
          else if (o.state === 'end') outcomes.push(o);
        } catch {
          // a line that is not ours (something printed to stdout): ignored
        }
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-20000);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveChild({ code, signal, timedOut, done, outcomes, stderr, pid: child.pid, lastStarted });
    });
  });
}

const endingText = (e) => (e.timedOut ? 'timed out' : e.signal ? `killed by ${e.signal}` : `exit code ${e.code}${e.done ? '' : ' before finishing'}`);
const clean = (e) => !e.timedOut && e.code === 0 && e.done;

async function parentMain(args) {
  const seedModels = loadSeeds(args.seeds);
  const jobs = args.jobs ?? Math.max(1, Math.min(4, (await import('node:os')).availableParallelism()));
  const log = (...m) => {
    if (!args.quiet) console.log(...m);
  };
  const started = Date.now();
  console.log(`fuzz: seed ${args.seed}, ${args.count} models${args.start ? ` from index ${args.start}` : ""} from ${seedModels.length} seed models (${seedModels.map((s) => s.name).join(', ')}), batches of ${args.batch}, ${jobs} at a time`);
  const summary = {
    seed: args.seed, requested: args.count, models: 0, loaded: 0, ran: 0, skippedRuns: 0, errors: {},
    crashes: [], knownOrtCrashes: [], sanitizerOoms: [], timeouts: [], unexpectedErrors: [], batchFailures: [], seconds: 0,
  };
  const writeModel = (index, suffix = '') => {
    mkdirSync(args.out, { recursive: true });
    const path = join(args.out, `seed-${args.seed}-index-${index}${suffix}.onnx`);
    writeFileSync(path, generate(seedModels, args.seed, index).bytes);
    return path;
  };
  const tally = (outcomes) => {
    for (const o of outcomes) {
      summary.models++;
      if (o.loaded) summary.loaded++;
      if (o.ran) summary.ran++;
      if (o.skipped) summary.skippedRuns++;
      if (o.error) summary.errors[o.error] = (summary.errors[o.error] ?? 0) + 1;
      if (o.unexpected) summary.unexpectedErrors.push({ index: o.i, error: o.unexpected, path: writeModel(o.i) });
    }
  };

  /** Runs model `i` alone in its own child; records it as a finding unless it ends cleanly. Returns whether it died. */
  async function alone(i) {
    const ending = await runChild(args, i, i + 1, Math.min(args.childTimeout, 30));
    if (clean(ending)) {
      tally(ending.outcomes);
      return false;
    }
    const { bytes, base, mutations } = generate(seedModels, args.seed, i);
    const finding = { seed: args.seed, index: i, base, mutations, ending: endingText(ending), path: writeModel(i), stderr: ending.stderr.slice(-4000) };
    summary.models++;
    const kind = ending.timedOut
      ? 'TIMEOUT'
      : isKnownOrtCrash(bytes, ending)
        ? 'known ORT crash (Conv group=0, SIGFPE)'
        : isSanitizerOom(ending)
          ? 'ASan out-of-memory in ONNX Runtime (a huge allocation; a normal build gives an OrtError)'
          : 'CRASH';
    if (kind === 'TIMEOUT') summary.timeouts.push(finding);
    else if (kind.startsWith('known')) summary.knownOrtCrashes.push(finding);
    else if (kind.startsWith('ASan')) summary.sanitizerOoms.push(finding);
    else summary.crashes.push(finding);
    console.log(`fuzz: ${kind}: seed ${args.seed} index ${i} (${base} + ${mutations.join(', ')}): ${finding.ending}\n      model: ${finding.path}\n      replay: node scripts/fuzz.mjs --replay ${finding.path}`);
    if (kind === 'CRASH' && ending.stderr.trim()) console.log(ending.stderr.trim().split('\n').slice(-30).map((l) => `      | ${l}`).join('\n'));
    return true;
  }

  /**
   * Runs models [from, to) in one child. Where that child dies, the model it was on runs alone (the
   * culprit, if it dies again); if it does not, the models before it run one by one (a crash that
   * shows late, in a finalizer or at exit, shows alone too); the rest of the batch then runs on.
   */
  async function batch(from, to) {
    const ending = await runChild(args, from, to, args.childTimeout);
    if (clean(ending)) return tally(ending.outcomes);
    const at = ending.lastStarted ?? from;
    log(`fuzz: batch ${from}..${to - 1} ended at index ${at}: ${endingText(ending)}; running index ${at} alone`);
    if (!(await alone(at))) {
      log(`fuzz: index ${at} alone ends cleanly; running ${from}..${at - 1} one by one`);
      let culprits = 0;
      for (let i = from; i < at; i++) if (await alone(i)) culprits++;
      if (culprits === 0) {
        // The batch died but no model does alone: the crash needs the models before it (state, timing).
        const finding = { seed: args.seed, from, to: at + 1, ending: endingText(ending), stderr: ending.stderr.slice(-4000) };
        (ending.timedOut ? summary.timeouts : summary.batchFailures).push(finding);
        console.log(`fuzz: ${ending.timedOut ? 'TIMEOUT' : 'CRASH'} of batch ${from}..${at} (seed ${args.seed}) that no single model repeats: ${finding.ending}\n      replay: node scripts/fuzz.mjs --seed ${args.seed} --start ${from} --count ${at + 1 - from} --batch ${at + 1 - from}`);
        if (ending.stderr.trim()) console.log(ending.stderr.trim().split('\n').slice(-30).map((l) => `      | ${l}`).join('\n'));
      }
    } else {
      tally(ending.outcomes.filter((o) => o.i < at)); // the models before it ended as they should
    }
    if (at + 1 < to) await batch(at + 1, to);
  }

  const batches = [];
  const end = args.start + args.count;
  for (let from = args.start; from < end; from += args.batch) batches.push([from, Math.min(end, from + args.batch)]);
  let next = 0;
  let stoppedEarly = false;
  let lastProgress = Date.now();
  async function worker() {
    while (next < batches.length) {
      if ((Date.now() - started) / 1000 >= args.maxSeconds) {
        stoppedEarly = true;
        return;
      }
      const [from, to] = batches[next++];
      await batch(from, to);
      if (Date.now() - lastProgress > 10_000) {
        lastProgress = Date.now();
        log(`fuzz: ${summary.models} models, ${Math.round((Date.now() - started) / 1000)} s`);
      }
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker));
  summary.seconds = Math.round((Date.now() - started) / 100) / 10;
  summary.stoppedEarly = stoppedEarly;

  const errors = Object.entries(summary.errors).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
  console.log(
    `fuzz: seed ${summary.seed}: ${summary.models} models in ${summary.seconds} s${stoppedEarly ? ` (stopped at the ${args.maxSeconds} s limit)` : ''}: ` +
      `${summary.loaded} loaded, ${summary.ran} ran, ${summary.skippedRuns} not run (huge or unfeedable inputs); errors: ${errors}`,
  );
  console.log(
    `fuzz: ${summary.crashes.length + summary.batchFailures.length} crashes, ${summary.knownOrtCrashes.length} known ONNX Runtime crashes (Conv group=0), ` +
      `${summary.timeouts.length} timeouts, ${summary.unexpectedErrors.length} unexpected error kinds` +
      (summary.sanitizerOoms.length > 0 ? `, ${summary.sanitizerOoms.length} ASan out-of-memory ends in ONNX Runtime (not counted)` : ''),
  );
  for (const u of summary.unexpectedErrors.slice(0, 10)) console.log(`fuzz: unexpected error at index ${u.index} (${u.path}):\n      ${u.error.split('\n').slice(0, 4).join('\n      ')}`);
  if (args.json) writeFileSync(args.json, JSON.stringify(summary, null, 2));
  // A hang fails too: a child that outlives --child-timeout is stuck (a deadlock at a run, at exit).
  const failed = summary.crashes.length + summary.batchFailures.length + summary.unexpectedErrors.length + summary.timeouts.length > 0;
  if (failed) console.log(`fuzz: FAILED (replay the whole run: node scripts/fuzz.mjs --seed ${summary.seed} --count ${args.count}${args.start ? ` --start ${args.start}` : ''})`);
  return failed ? 1 : 0;
}

/** --index: writes one model and runs it alone; --replay: runs a model file alone. */
async function singleMain(args) {
  let path = args.replay;
  let bytes;
  if (path) bytes = new Uint8Array(readFileSync(path));
  else {
    const seedModels = loadSeeds(args.seeds);
    const model = generate(seedModels, args.seed, args.index);
    bytes = model.bytes;
    mkdirSync(args.out, { recursive: true });
    path = join(args.out, `seed-${args.seed}-index-${args.index}.onnx`);
    writeFileSync(path, bytes);
    console.log(`fuzz: seed ${args.seed} index ${args.index}: ${model.base} + ${model.mutations.join(', ')} -> ${path}`);
  }
  const ending = await runChild(args, 0, 1, args.childTimeout, path);
  const known = !clean(ending) && isKnownOrtCrash(bytes, ending);
  const oom = !clean(ending) && !known && isSanitizerOom(ending);
  console.log(`fuzz: ${path}: ${endingText(ending)}${known ? ' (known ONNX Runtime crash: Conv group=0)' : oom ? ' (ASan out-of-memory in ONNX Runtime)' : ''}`);
  for (const o of ending.outcomes) console.log(`fuzz: ${JSON.stringify(o)}`);
  if (ending.stderr.trim()) console.log(ending.stderr.trim());
  return clean(ending) && !ending.outcomes.some((o) => o.unexpected) ? 0 : known || oom ? 2 : 1;
}

const args = parseArgs(process.argv.slice(2));
if (args.child) {
  await childMain(args);
} else {
  if (args.seed === undefined) args.seed = (Math.random() * 2 ** 32) >>> 0;
  if (args.replay || args.index !== undefined) process.exitCode = await singleMain(args);
  else process.exitCode = await parentMain(args);
}
