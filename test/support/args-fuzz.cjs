// args-fuzz.cjs: what the two argument fuzzers of test/40.errors share (native-args-fuzz.cjs for the
// addon's entry points, api-args-fuzz.cjs for the public API): a seeded generator, hostile values,
// the pattern of a message that names nothing, and the loop that makes the calls, logs each before
// it is made (a crash then names its call) and prints a JSON summary as the child's last line.
// test/97.server.fuzz uses its generator and pattern too.
'use strict';
const { closeSync, openSync, writeSync } = require('node:fs');

/** mulberry32: small and seedable; `pick` chooses from a list with it. */
function generator(seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { random, pick: (list) => list[Math.floor(random() * list.length)] };
}

const TYPED = [Float32Array, Float64Array, Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
/** Views whose memory is not plain: transferred away, resizable, shared with other threads. */
const detached = (C) => { const a = new C(4); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
const resizable = (C, n = 4) => new C(new ArrayBuffer(n * C.BYTES_PER_ELEMENT, { maxByteLength: 1024 }));
const shared = (C, n = 4) => new C(new SharedArrayBuffer(n * C.BYTES_PER_ELEMENT));
/** Thrown by the fuzz's own getters and proxies: a message that may pass through unnamed. */
const THROWS = 'a getter the fuzz set to throw';
const thrower = () => { throw new Error(THROWS); };
/** Values of every kind a caller can pass, for the fuzzers' own lists to add to. */
const hostile = (pick) => [
  () => undefined, () => null, () => 0, () => 1, () => -1, () => 1.5, () => NaN, () => 2 ** 53, () => 1n, () => '', () => 'x', () => 'cuda', () => true, () => Symbol('s'),
  () => [], () => [-1], () => [1.5], () => new Array(4), () => ['a', 'b', 'c', 'd'],
  () => new (pick(TYPED))(4), () => detached(pick(TYPED)), () => resizable(pick(TYPED)), () => shared(pick(TYPED)), () => new Float32Array(new ArrayBuffer(20), 4, 4),
  () => new DataView(new ArrayBuffer(8)), () => new ArrayBuffer(8),
  () => ({}), () => ({ get x() { return thrower(); } }), () => new Proxy({}, { get: thrower, has: thrower, ownKeys: thrower, getOwnPropertyDescriptor: thrower }), () => new Proxy([], { get: thrower }),
  () => () => 1, () => Object.create(null), () => new Date(),
];

function show(v) {
  try {
    if (typeof v === 'symbol') return 'a symbol';
    if (typeof v === 'function') return 'a function';
    if (typeof v === 'bigint') return `${v}n`;
    if (v?.constructor?.name === 'Tensor') return `Tensor(${v.type})`;
    if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.length ?? v.byteLength})`;
    if (Array.isArray(v)) return `[${v.slice(0, 6).map(show).join(',')}${v.length > 6 ? `,... ${v.length}` : ''}]`;
    if (v && typeof v === 'object') return `{${Object.keys(v).slice(0, 4).join(',')}}`;
    return String(v);
  } catch {
    return 'a proxy';
  }
}

/** A message that names nothing the caller passed: node-addon-api's bare type errors, or a JS internal's. */
const UNNAMED = /was expected|call stack|Cannot read prop|is not a function|is not iterable|Cannot convert|undefined \(reading|of undefined|of null|\[object Object\]/;

/**
 * Makes `calls` calls from `nextCall()` ([description, thunk]); counts what returned, threw or
 * rejected later, and records failures that are no Error or whose message names nothing.
 */
async function fuzz(calls, logPath, nextCall) {
  const log = openSync(logPath, 'w');
  const summary = { calls, returned: 0, threw: 0, rejected: 0, nonErrors: [], unnamed: [] };
  const caught = (call, e) => {
    if (!(e instanceof Error)) summary.nonErrors.push(`${call}: ${String(e)}`);
    else if (UNNAMED.test(e.message) && !e.message.includes(THROWS)) summary.unnamed.push(`${call}: ${e.message}`);
  };
  const pending = [];
  for (let i = 0; i < calls; i++) {
    const [call, make] = nextCall();
    writeSync(log, `${i} ${call}\n`);
    try {
      const result = make();
      summary.returned++;
      if (result && typeof result.then === 'function') pending.push(result.then((value) => value?.release?.(), (e) => (summary.rejected++, caught(call, e))));
    } catch (e) {
      summary.threw++;
      caught(call, e);
    }
    if (pending.length >= 16) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  closeSync(log);
  summary.unnamed = [...new Set(summary.unnamed)].slice(0, 20);
  return summary;
}

module.exports = { generator, TYPED, detached, resizable, shared, thrower, hostile, show, UNNAMED, fuzz };
