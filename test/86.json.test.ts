// 86.json: the v2 server's native JSON reader (native/json.cc) against JSON.parse. Where it accepts
// a document, it must give exactly what JSON.parse gives (the same numbers to the bit, -0 included,
// the same keys in the same order, "__proto__" an own property), but each inputs[i].data that is
// all numbers as one flat Float64Array; everywhere else it answers undefined and JSON.parse decides.
// Generated documents, mutated documents, and the cases a hand-written reader gets wrong.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { NativeBinding } from '../lib/binding.js';

const require = createRequire(import.meta.url);
const { native } = require('../dist/binding.js') as { native: NativeBinding };
const parse = (text: string | Uint8Array, length?: number) => native.parseJson(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, length);

/** A deterministic PRNG (mulberry32), so that a failure names a seed that reproduces it. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the native reader should give for a JSON.parse result: inputs[i].data of numbers flattened into Float64Arrays. */
function expected(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !Array.isArray((value as { inputs?: unknown }).inputs)) return value;
  for (const input of (value as { inputs: unknown[] }).inputs) {
    if (input === null || typeof input !== 'object' || Array.isArray(input) || !Object.hasOwn(input, 'data')) continue;
    const data = (input as { data: unknown }).data;
    if (!Array.isArray(data)) continue;
    const leaves: unknown[] = [];
    let numeric = true;
    const walk = (a: unknown[]) => {
      if (a.length === 0) numeric = false;
      for (const v of a) {
        if (Array.isArray(v)) walk(v);
        else if (typeof v === 'number') leaves.push(v);
        else numeric = false;
      }
    };
    walk(data);
    if (numeric) (input as { data: unknown }).data = Float64Array.from(leaves as number[]);
  }
  return value;
}

/** Deep equality that JSON cannot fake: Object.is on numbers, own keys in order, prototypes, typed arrays. */
function same(a: unknown, b: unknown, path = '$'): string | undefined {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    return Object.is(a, b) ? undefined : `${path}: ${String(a)} (${typeof a}) against ${String(b)} (${typeof b})`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: prototypes differ`;
  if (a instanceof Float64Array) {
    const other = b as Float64Array;
    if (a.length !== other.length) return `${path}: ${a.length} numbers against ${other.length}`;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], other[i])) return `${path}[${i}]: ${a[i]} against ${other[i]}`;
    return undefined;
  }
  const ka = Reflect.ownKeys(a);
  const kb = Reflect.ownKeys(b);
  if (ka.join('\u0001') !== kb.join('\u0001')) return `${path}: keys [${ka.map(String)}] against [${kb.map(String)}]`;
  for (const k of ka) {
    if (Array.isArray(a) && k === 'length') continue; // an array's own, never enumerable
    const d = Object.getOwnPropertyDescriptor(a, k)!;
    const e = Object.getOwnPropertyDescriptor(b, k)!;
    if (!d.enumerable || !d.writable || !d.configurable || !('value' in d)) return `${path}.${String(k)}: not a plain data property`;
    const diff = same(d.value, e.value, `${path}.${String(k)}`);
    if (diff) return diff;
  }
  return undefined;
}

/** If the reader accepts `text`, JSON.parse must accept it and agree; returns whether it accepted. */
function check(text: string | Uint8Array): boolean {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const ours = parse(bytes);
  if (ours === undefined) return false;
  let theirs: unknown;
  try {
    theirs = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new Error(`the native reader accepted what JSON.parse refuses (${(error as Error).message}): ${Buffer.from(bytes).toString('utf8').slice(0, 200)}`);
  }
  const diff = same(ours, expected(theirs));
  if (diff) throw new Error(`the native reader and JSON.parse differ at ${diff}, for ${Buffer.from(bytes).toString('utf8').slice(0, 200)}`);
  return true;
}

// ---- generated documents

const NUMBER_TEXTS = ['0', '-0', '1', '-1', '0.5', '1e3', '1E-3', '-2.5e+10', '1e400', '-1e400', '1e-400', '4.9e-324', '2.2250738585072014e-308', '1.7976931348623157e308', '9007199254740993', '123456789012345678901234567890', '0.1', '0.30000000000000004', '3.4028234663852886e38', '1.401298464324817e-45'];
const STRINGS = ['', 'x', 'FP32', 'a b', 'quote " in', 'back \\ slash', 'tab\tnew\nline', 'é', '日本語', '😀', '\u0000', '\u001f', '\u007f', '\u2028', 'data', '__proto__', 'inputs', 'constructor', 'toString', '1', '01'];

function numberText(rand: () => number): string {
  const r = rand();
  if (r < 0.3) return NUMBER_TEXTS[Math.floor(rand() * NUMBER_TEXTS.length)];
  if (r < 0.6) return String(Math.fround(rand() * 2 - 1)); // a float32 as a double: 17 digits or so
  if (r < 0.8) return String(Math.floor((rand() - 0.5) * 2 ** (1 + rand() * 60)));
  return (rand() * 10 ** Math.floor(rand() * 40 - 20)).toPrecision(1 + Math.floor(rand() * 20)).replace('+', rand() < 0.5 ? '+' : '');
}

function stringText(rand: () => number): string {
  const s = STRINGS[Math.floor(rand() * STRINGS.length)];
  const r = rand();
  if (r < 0.7) return JSON.stringify(s);
  if (r < 0.85) return `"${[...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`; // every unit escaped
  const lone = ['\\ud800', '\\udfff', '\\ud83d\\ude00', '\\uD83D\\uDE00', '\\ud83d x', '\\/', '\\b\\f\\r'][Math.floor(rand() * 7)];
  return `"${lone}"`;
}

function value(rand: () => number, depth: number): string {
  const r = rand();
  const space = () => [' ', '', '\n', '\t', '\r\n  '][Math.floor(rand() * 5)];
  if (depth > 4 || r < 0.35) return numberText(rand);
  if (r < 0.55) return stringText(rand);
  if (r < 0.62) return ['true', 'false', 'null'][Math.floor(rand() * 3)];
  if (r < 0.8) {
    const n = Math.floor(rand() * 5);
    return `[${space()}${Array.from({ length: n }, () => value(rand, depth + 1)).join(`,${space()}`)}${space()}]`;
  }
  const n = Math.floor(rand() * 5);
  return `{${Array.from({ length: n }, () => `${space()}${stringText(rand)}${space()}:${space()}${value(rand, depth + 1)}`).join(',')}${space()}}`;
}

/** An infer request: inputs with data flat, nested, empty or mixed, and other members around them. */
function request(rand: () => number): string {
  const inputs = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => {
    const n = Math.floor(rand() * 40);
    const numbers = Array.from({ length: n }, () => numberText(rand));
    let data: string;
    const r = rand();
    if (r < 0.5) data = `[${numbers.join(',')}]`;
    else if (r < 0.7) data = `[[${numbers.slice(0, n >> 1).join(', ')}],[${numbers.slice(n >> 1).join(' ,')}]]`;
    else if (r < 0.8) data = `[${numbers.join(',')}${n > 0 ? ',' : ''}${value(rand, 3)}]`;
    else data = value(rand, 2);
    const members = [`"name":"x${i}"`, '"datatype":"FP32"', `"shape":[1,${n}]`, `"data":${data}`];
    if (rand() < 0.3) members.push(`"parameters":${value(rand, 2)}`);
    if (rand() < 0.2) members.push(`"data":${data}`); // a key twice: the last wins
    return `{${members.sort(() => rand() - 0.5).join(',')}}`;
  });
  const top = [`"inputs":[${inputs.join(',')}]`, `"id":${stringText(rand)}`];
  if (rand() < 0.3) top.push(`"outputs":[{"name":"y","parameters":{"binary_data":${rand() < 0.5}}}]`);
  if (rand() < 0.2) top.push(`"parameters":{"data":[1,2,3]}`);
  if (rand() < 0.1) top.push(`"__proto__":{"polluted":true}`);
  return `${rand() < 0.5 ? ' ' : ''}{${top.sort(() => rand() - 0.5).join(',')}}${rand() < 0.5 ? '\n' : ''}`;
}

describe('native JSON reader (the v2 server\'s)', () => {
  test('a request of 512 float32 numbers: the same doubles as JSON.parse, in one Float64Array', () => {
    const numbers = Array.from({ length: 512 }, (_, i) => Math.fround(Math.sin(i) * 3));
    const text = JSON.stringify({ id: 'r', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 512], data: numbers }] });
    const ours = parse(text) as { id: string; inputs: { name: string; shape: number[]; data: Float64Array }[] };
    expect(ours.inputs[0].data).toBeInstanceOf(Float64Array);
    expect(Array.from(ours.inputs[0].data)).toEqual(numbers);
    expect(ours.inputs[0].shape).toEqual([1, 512]); // other arrays stay arrays
    expect(check(text)).toBe(true);
  });

  test('only inputs[i].data becomes a Float64Array; nested data is flattened in row-major order', () => {
    const ours = parse('{"inputs":[{"data":[[1,2],[3,[4]]]},{"data":[]},{"data":[1,"a"]}],"id":{"data":[1]},"parameters":{"data":[2]},"data":[3]}') as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(Array.from(ours.inputs[0].data)).toEqual([1, 2, 3, 4]);
    expect(ours.inputs[1].data).toEqual([]);
    expect(ours.inputs[2].data).toEqual([1, 'a']);
    expect(ours.id.data).toEqual([1]);
    expect(ours.parameters.data).toEqual([2]);
    expect(ours.data).toEqual([3]);
  });

  test('what JSON.parse refuses, the reader leaves to it (undefined)', () => {
    const refused = ['', ' ', '01', '1.', '.5', '-', '+1', '1e', '1e+', '-inf', 'NaN', 'Infinity', '0x10', '1.e5', '{"a":1,}', '[1,]', '[1 2]', '{"a" 1}', "{'a':1}", '{"a":1}x', '{"a":1}{}', '"\u0001"', '"\\x41"', '"\\u12"', 'tru', 'nul', '[', ']', '{', '{"inputs":[{"data":[1,2,]}]}', '{"inputs":[{"data":[1,,2]}]}', '{"inputs":[{"data":[[1],2]]}]}x', '\ufeff{}'];
    for (const text of refused) {
      expect(() => JSON.parse(text), text).toThrow(SyntaxError);
      expect(parse(text), text).toBeUndefined();
    }
    // Bytes that are not UTF-8, and escapes of lone surrogates: JSON.parse decides what they become.
    expect(parse(Uint8Array.from([0x22, 0xff, 0x22]))).toBeUndefined();
    expect(parse(Uint8Array.from([0x22, 0xed, 0xa0, 0x80, 0x22]))).toBeUndefined(); // an encoded surrogate
    expect(parse('"\\ud800"')).toBeUndefined();
    expect(parse('"\\udc00\\ud800"')).toBeUndefined();
  });

  test('numbers at the edges of double, -0, and integers past 2^53 are the doubles JSON.parse gives', () => {
    for (const text of NUMBER_TEXTS) {
      expect(check(text), text).toBe(true);
      expect(check(`{"inputs":[{"data":[${text}, -${text.replace(/^-/, '')}]}]}`), text).toBe(true);
    }
  });

  test('"__proto__" is an own property, as JSON.parse makes it, and pollutes nothing', () => {
    const ours = parse('{"__proto__":{"polluted":1},"\\u005f_proto__":2,"a":{"__proto__":[]}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(ours)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(ours, '__proto__')?.value).toBe(2); // the last of equal keys
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(check('{"__proto__":{"polluted":1},"\\u005f_proto__":2,"a":{"__proto__":[]}}')).toBe(true);
  });

  test('200,000 levels of nesting: no recursion, no crash, the same as JSON.parse', () => {
    const depth = 200_000;
    const deep = parse(`{"inputs":[{"data":${'['.repeat(depth)}1${']'.repeat(depth)}}]}`) as { inputs: { data: Float64Array }[] };
    expect(Array.from(deep.inputs[0].data)).toEqual([1]); // data: one number, flattened
    expect(check(`{"inputs":[{"data":${'['.repeat(2000)}-0${']'.repeat(2000)}}]}`)).toBe(true);
    expect(check('['.repeat(100) + ']'.repeat(100))).toBe(true);
    expect(parse('['.repeat(depth) + ']'.repeat(depth))).toBeUndefined(); // 200,000 arrays: JSON.parse's to build
    expect(parse('['.repeat(depth))).toBeUndefined();
  });

  test('a length reads only the JSON header of a binary request; bad arguments are refused', () => {
    const body = Buffer.concat([Buffer.from('{"inputs":[{"data":[1.5]}]}'), Buffer.from([1, 2, 3])]);
    expect(Array.from((parse(body, body.length - 3) as { inputs: { data: Float64Array }[] }).inputs[0].data)).toEqual([1.5]);
    expect(parse(body)).toBeUndefined(); // the binary bytes are not JSON
    expect(() => native.parseJson('{}' as never)).toThrow('parseJson: expected a Uint8Array');
    expect(() => native.parseJson(body, body.length + 1)).toThrow('parseJson: length is outside the array');
    expect(() => native.parseJson(body, -1)).toThrow('parseJson: length is outside the array');
    const detached = new Uint8Array(new ArrayBuffer(8));
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(parse(detached)).toBeUndefined(); // nothing to read: JSON.parse decides
  });

  test('memory that changes under it: a resizable buffer is read at its length now; a SharedArrayBuffer another thread writes while it reads gives some answer, never a crash', () => {
    const text = Buffer.from('{"inputs":[{"data":[1,2,3]}]}');
    const resizable = new ArrayBuffer(text.length, { maxByteLength: 4 * text.length } as never) as ArrayBuffer & { resize(n: number): void };
    const view = new Uint8Array(resizable); // length-tracking
    view.set(text);
    expect(Array.from((parse(view) as { inputs: { data: Float64Array }[] }).inputs[0].data)).toEqual([1, 2, 3]);
    resizable.resize(text.length - 3); // cut: no longer JSON
    expect(parse(view)).toBeUndefined();
    // A Worker rewrites the bytes (digits, brackets, quotes, backslashes) while the main thread
    // parses them, in a child process: whatever it reads, every access stays inside the buffer.
    const child = spawnSync(process.execPath, ['-e', `
      const { Worker } = require('node:worker_threads');
      const { native } = require(${JSON.stringify(resolve(__dirname, '..', 'dist', 'binding.js'))});
      const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], data: Array.from({ length: 256 }, (_, i) => Math.sin(i)) }], id: 'a\\u00e9\\ud83d\\ude00' }));
      const shared = new Uint8Array(new SharedArrayBuffer(body.length));
      shared.set(body);
      const stop = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(\`
        const { workerData: [bytes, stop] } = require('node:worker_threads');
        const pool = [48, 49, 57, 45, 46, 101, 44, 91, 93, 123, 125, 34, 92, 117, 32, 0, 255, 195];
        let seed = 1;
        while (Atomics.load(stop, 0) === 0) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          bytes[seed % bytes.length] = pool[seed % pool.length];
        }
      \`, { eval: true, workerData: [shared, stop] });
      let objects = 0, refused = 0;
      const end = Date.now() + 1500;
      while (Date.now() < end) {
        const out = native.parseJson(shared);
        if (out === undefined) refused++; else objects++;
        if (objects + refused > 20000) break;
      }
      Atomics.store(stop, 0, 1);
      worker.terminate().then(() => console.log(JSON.stringify({ objects, refused })));
    `], { encoding: 'utf8', timeout: 30_000 });
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    const counts = JSON.parse(child.stdout.trim().split('\n').pop()!);
    expect(counts.objects + counts.refused, JSON.stringify(counts)).toBeGreaterThan(100);
  });

  test('a document of many small values goes to JSON.parse, which builds them faster', () => {
    const many = JSON.stringify({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, 500], data: Array.from({ length: 500 }, (_, i) => `s${i}`) }] });
    expect(parse(many)).toBeUndefined();
    const few = JSON.stringify({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [1, 5], data: ['a', 'b', 'c', 'd', 'e'] }] });
    expect(check(few)).toBe(true);
  });

  test('3,000 generated requests: accepted ones equal JSON.parse exactly, and most are accepted', () => {
    let accepted = 0;
    let valid = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const text = request(prng(seed));
      let ok = true;
      try {
        JSON.parse(text);
      } catch {
        ok = false;
      }
      if (ok) valid++;
      try {
        if (check(text)) accepted++;
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).message}`);
      }
    }
    // Refusals are lone-surrogate escapes and documents of many small values; the rest is read.
    expect(valid).toBe(3000);
    expect(accepted).toBeGreaterThan(0.6 * valid);
  });

  test('20,000 mutations of requests (bytes flipped, cut, doubled, dropped): each accepted one equals JSON.parse', () => {
    const bytes = [0x00, 0x22, 0x2c, 0x2d, 0x2e, 0x30, 0x31, 0x3a, 0x45, 0x5b, 0x5c, 0x5d, 0x65, 0x7b, 0x7d, 0x20, 0x0a, 0x75, 0x80, 0xc3, 0xed, 0xf0, 0xff];
    let accepted = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const rand = prng(seed * 7919);
      const original = Buffer.from(request(rand), 'utf8');
      let mutated: Buffer = original;
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        const at = Math.floor(rand() * mutated.length);
        const r = rand();
        if (r < 0.4) {
          mutated = Buffer.from(mutated);
          mutated[at] = bytes[Math.floor(rand() * bytes.length)];
        } else if (r < 0.6) mutated = mutated.subarray(0, at);
        else if (r < 0.8) mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at, at + 1), mutated.subarray(at)]);
        else mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1)]);
      }
      try {
        if (check(mutated)) accepted++;
      } catch (error) {
        throw new Error(`mutation seed ${seed}: ${(error as Error).message}`);
      }
    }
    expect(accepted).toBeGreaterThan(1000); // the comparison happened often enough to mean something
  });
});
