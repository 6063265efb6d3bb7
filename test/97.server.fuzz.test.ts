// 97.server.fuzz: hostile v2 requests, generated from valid ones, against a real server over HTTP
// (JSON and binary bodies, plain or compressed, through JSON.parse and through the native reader) and gRPC (messages
// mutated within the proto's types, and bytes that are no message at all). Every request gets an
// answer: a result consistent with its shape, or the spec's error with a short message that names
// what was wrong (never a JavaScript internal's, never a 5xx of ours); the server stays healthy and
// counts no internal failure. And under load, on a batched model, a good request's rows are its own
// whatever hostile request shares its batch. The seed is the UTC date unless ORT_NAPI_FUZZ_SEED is set; it is printed.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATATYPES, expectedLinear, makeRepository, SAMPLES, server as api, type ServerApi } from './97.server.support.js';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');

const SEED = Number(process.env.ORT_NAPI_FUZZ_SEED ?? new Date().toISOString().slice(0, 10).replaceAll('-', ''));
const HTTP_REQUESTS = 600;
const GRPC_REQUESTS = 300;
const BODY_LIMIT = 8 * 2 ** 20;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// The seeded generator and the pattern of a message that names nothing (a JavaScript internal's),
// shared with test/40's argument fuzzers.
const fuzzing = require('./support/args-fuzz.cjs') as { generator(seed: number): { random(): number }; UNNAMED: RegExp };
const prng = (seed: number) => fuzzing.generator(seed).random;
const INTERNAL_MESSAGE = fuzzing.UNNAMED;

let srv: ServerApi.V2Server;
let base: string;
let grpcAddress: string;

beforeAll(async () => {
  const layout = await makeRepository(50);
  srv = api.createServer({ repository: layout.dir, http: { port: 0, host: '127.0.0.1', bodyLimit: BODY_LIMIT }, grpc: { port: 0, host: '127.0.0.1', maxMessageBytes: BODY_LIMIT } });
  const addresses = await srv.start();
  base = addresses.http!;
  grpcAddress = addresses.grpc!;
  console.log(`[97.server.fuzz] seed ${SEED} (ORT_NAPI_FUZZ_SEED=${SEED} repeats this run)`);
});

afterAll(async () => {
  await srv?.stop();
});

async function internalFailures(): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(/^ort_napi_inference_request_failure_total\{[^}]*reason="internal"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

// ---- values and mutations

/** A deeply nested array, too deep for JSON.stringify: a placeholder, replaced in the text. */
const deep = (levels: number) => `\u0000DEEP${levels}\u0000`;
const expandDeep = (text: string) => text.replace(/"\\u0000DEEP(\d+)\\u0000"/g, (_, n) => '['.repeat(Number(n)) + '1' + ']'.repeat(Number(n)));

function hostile(random: () => number): unknown {
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
  return pick<() => unknown>([
    () => null, () => true, () => false, () => 0, () => -1, () => 1.5, () => 1e308, () => -1e308, () => 2 ** 53 + 2, () => 2 ** 64, () => 4294967296,
    () => '', () => 'x', () => 'FP32', () => 'BYTES', () => '__proto__', () => 'constructor', () => '9'.repeat(30), () => 'é'.repeat(5000), () => '1e999',
    () => [], () => ({}), () => [[]], () => [null], () => [1, [2, [3]]], () => ({ __proto__: { polluted: 1 } }), () => JSON.parse('{"__proto__":{"polluted":1}}'),
    () => deep(1 + Math.floor(random() * 200_000)), () => new Array(1 + Math.floor(random() * 100_000)).fill(0), () => [1, 'a', true, null, {}],
    () => ({ binary_data_size: pick([0, 4, -4, 1e12, 'four', 2.5]) }), () => ({ name: 'x' }), () => ['x', 'y'],
    () => new Array(1 + Math.floor(random() * 5000)).fill(1),
  ])();
}

/** Every (container, key) in a JSON tree, the root's own keys included. */
function slots(root: Json): [Json, string | number][] {
  const out: [Json, string | number][] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) node.forEach((v, i) => (out.push([node, i]), stack.push(v)));
    else if (node && typeof node === 'object') for (const k of Object.keys(node)) out.push([node as Json, k]), stack.push((node as Json)[k]);
  }
  return out;
}

function mutate(request: Json, random: () => number): void {
  const count = 1 + Math.floor(random() * 3);
  for (let m = 0; m < count; m++) {
    const all = slots(request);
    if (all.length === 0) return;
    const [container, key] = all[Math.floor(random() * all.length)];
    const op = random();
    if (op < 0.6) container[key as string] = hostile(random);
    else if (op < 0.75) Array.isArray(container) ? container.splice(key as number, 1) : delete container[key as string];
    else if (op < 0.85 && Array.isArray(container)) container.push(structuredClone(container[key as number] ?? null));
    else if (!Array.isArray(container)) container[['__proto__', 'parameters', 'binary_data_size', 'shape', 'data', 'datatype', 'extra'][Math.floor(random() * 7)]] = hostile(random);
  }
}

function byteMutation(body: Buffer, random: () => number): Buffer {
  const at = Math.floor(random() * body.length);
  const op = random();
  if (op < 0.4) {
    const copy = Buffer.from(body);
    copy[at] = Math.floor(random() * 256);
    return copy;
  }
  if (op < 0.7) return body.subarray(0, at);
  return Buffer.concat([body.subarray(0, at), body.subarray(Math.floor(random() * body.length))]);
}

// ---- requests

const linearJson = (): Json => ({ id: 'r', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [[1, 2, 3], [4, 5, 6]] }], outputs: [{ name: 'y' }] });
const typesJson = (): Json => ({ inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], data: structuredClone(SAMPLES[d].json) })) });
const typesBinaryHeader = (): Json => ({
  inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], parameters: { binary_data_size: SAMPLES[d].raw.byteLength } })),
  parameters: { binary_data_output: true },
});

interface HttpCase {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
  /** Whether the request set a deadline (a 504 is then an answer the spec allows). */
  deadline: boolean;
}

function httpCase(random: () => number): HttpCase {
  const kind = random();
  const binary = kind >= 0.6;
  const model = kind < 0.35 || (binary && kind < 0.75) ? 'linear' : 'types';
  const path = random() < 0.9 ? `/v2/models/${model}/infer` : `/v2/models/${model}/versions/${random() < 0.5 ? '1' : '2'}/infer`;
  const request = binary ? (model === 'linear' ? { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] } : typesBinaryHeader()) : model === 'linear' ? linearJson() : typesJson();
  // Half of them with an id long enough to send the JSON through the native reader (from 1.5 KB).
  if (random() < 0.5) request.id = 'p'.repeat(2000);
  if (random() < 0.9) mutate(request, random);
  const header = Buffer.from(expandDeep(JSON.stringify(request)));
  const raws = binary ? (model === 'linear' ? [new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer)] : DATATYPES.map(([d]) => SAMPLES[d].raw)) : [];
  let body: Buffer = binary ? Buffer.concat([header, ...raws]) : header;
  const headers: Record<string, string> = { 'content-type': binary ? 'application/octet-stream' : 'application/json' };
  if (binary) {
    const lengths = [String(header.length), String(header.length + 1), String(header.length - 3), String(body.length + 10), '0', '-1', 'abc', ''];
    headers['inference-header-content-length'] = random() < 0.7 ? lengths[0] : lengths[Math.floor(random() * lengths.length)];
  }
  if (random() < 0.15) body = byteMutation(body, random);
  if (random() < 0.15) {
    // Content codings: a body compressed as its header says (then sometimes corrupted), one that
    // says gzip and is not, codings the server does not decode.
    const coding = ['gzip', 'x-gzip', 'deflate', 'deflate-raw', 'gzip-lie', 'br', 'gzip, gzip', 'identity'][Math.floor(random() * 8)];
    headers['content-encoding'] = coding === 'deflate-raw' ? 'deflate' : coding === 'gzip-lie' ? 'gzip' : coding;
    if (coding === 'gzip' || coding === 'x-gzip') body = gzipSync(body);
    else if (coding === 'deflate') body = deflateSync(body);
    else if (coding === 'deflate-raw') body = deflateRawSync(body);
    if (random() < 0.3) body = byteMutation(body, random);
  }
  let deadline = request.parameters?.timeout !== undefined;
  if (random() < 0.1) {
    headers['inference-timeout-ms'] = ['0', '1', '100', '-5', 'soon', '1e9', ' '][Math.floor(random() * 7)];
    deadline = true;
  }
  return { path, body, headers, deadline };
}

function checkAnswer(where: string, status: number, contentType: string | null, text: string, deadline: boolean): string | undefined {
  if (![200, 400, 404, 413, 415].includes(status) && !(status === 504 && deadline)) return `${where}: HTTP ${status}: ${text.slice(0, 300)}`;
  if (status !== 200 || contentType?.includes('application/json')) {
    let body: Json;
    try {
      body = JSON.parse(text);
    } catch {
      return `${where}: HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`;
    }
    if (status === 200) {
      for (const out of body.outputs ?? []) {
        const count = (out.shape as number[]).reduce((a, b) => a * b, 1);
        if (out.data !== undefined ? out.data.length !== count : typeof out.parameters?.binary_data_size !== 'number') return `${where}: output ${out.name} inconsistent with its shape: ${JSON.stringify(out).slice(0, 200)}`;
      }
      if (!Array.isArray(body.outputs) || body.outputs.length === 0) return `${where}: 200 without outputs: ${text.slice(0, 200)}`;
      return undefined;
    }
    if (JSON.stringify(Object.keys(body)) !== '["error"]' || typeof body.error !== 'string') return `${where}: error body is not {"error": string}: ${text.slice(0, 200)}`;
    if (body.error.length > 600) return `${where}: error message of ${body.error.length} characters: ${body.error.slice(0, 200)}`;
    if (INTERNAL_MESSAGE.test(body.error)) return `${where}: a message of a JavaScript internal, not of the request: ${body.error}`;
  }
  return undefined;
}

describe('v2 requests generated from valid ones, mutated', () => {
  test(`HTTP: ${HTTP_REQUESTS} requests, JSON and binary, each answered with a result or the spec's error naming what was wrong; the server stays healthy`, { timeout: 120_000 }, async () => {
    const random = prng(SEED);
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < HTTP_REQUESTS; i++) {
      const c = httpCase(random);
      const res = await fetch(base + c.path, { method: 'POST', body: c.body, headers: c.headers });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const problem = checkAnswer(`request ${i} (${c.path}, ${c.body.length} bytes)`, res.status, res.headers.get('content-type'), text, c.deadline);
      if (problem) problems.push(problem);
    }
    console.log(`[97.server.fuzz] HTTP answers by status: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ')}`);
    expect(problems).toEqual([]);
    // The mutations reach both sides: requests refused, and requests served.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(HTTP_REQUESTS * 0.05);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(HTTP_REQUESTS * 0.3);
    const ready = await fetch(`${base}/v2/health/ready`);
    expect(ready.status).toBe(200);
    const good = await (await fetch(`${base}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify(linearJson()), headers: { 'content-type': 'application/json' } })).json();
    expect(good.outputs[0].data).toEqual([4.5, 4.5, 10.5, 10.5]);
    expect(await internalFailures()).toBe(0);
  });

  test('one batched model, 32 clients at once: hostile requests among good ones, over HTTP (JSON and binary) and gRPC; each good request gets exactly its own rows back, whatever shares its batch', { timeout: 120_000 }, async () => {
    const random = prng(SEED + 2);
    const definition = protoLoader.loadSync(join(__dirname, '..', 'lib', 'server', 'grpc_predict_v2.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const Service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService; // eslint-disable-line @typescript-eslint/no-explicit-any
    const client = new Service(grpcAddress, grpc.credentials.createInsecure());
    const batches = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const read = (what: string) => Number(new RegExp(`^ort_napi_inference_batch_size_${what}\\{model="batched",version="1"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      return { sum: read('sum'), count: read('count') };
    };
    const before = await batches();
    const problems: string[] = [];
    let good = 0;
    let hostileCount = 0;
    const one = async (i: number): Promise<void> => {
      if (random() < 0.5) {
        hostileCount++;
        const c = httpCase(random);
        const res = await fetch(base + c.path.replace(/\/v2\/models\/(linear|types)\//, '/v2/models/batched/'), { method: 'POST', body: c.body, headers: c.headers });
        const problem = checkAnswer(`hostile request ${i}`, res.status, res.headers.get('content-type'), await res.text(), c.deadline);
        if (problem) problems.push(problem);
        return;
      }
      good++;
      const rows = 1 + Math.floor(random() * 3);
      const x = Array.from({ length: rows * 3 }, () => Math.fround(random() * 200 - 100));
      const want = expectedLinear(x);
      const how = random();
      let got: unknown;
      if (how < 0.4) {
        got = (await (await fetch(`${base}/v2/models/batched/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3], data: x }] }), headers: { 'content-type': 'application/json' } })).json()).outputs?.[0]?.data;
      } else if (how < 0.7) {
        const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3], parameters: { binary_data_size: rows * 12 } }], parameters: { binary_data_output: true } }));
        const res = await fetch(`${base}/v2/models/batched/infer`, { method: 'POST', body: Buffer.concat([header, Buffer.from(Float32Array.from(x).buffer)]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } });
        const body = Buffer.from(await res.arrayBuffer());
        const length = Number(res.headers.get('inference-header-content-length'));
        got = res.status === 200 ? Array.from(new Float32Array(body.buffer.slice(body.byteOffset + length, body.byteOffset + body.length))) : body.toString();
      } else {
        got = await new Promise((resolve) =>
          client.ModelInfer({ model_name: 'batched', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3] }], raw_input_contents: [Buffer.from(Float32Array.from(x).buffer)] }, (error: Error | null, response: Json) => {
            const raw = response?.raw_output_contents?.[0] as Buffer | undefined;
            resolve(error ? error.message : raw && Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length))));
          }),
        );
      }
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`good request ${i} (${rows} rows, ${how < 0.4 ? 'JSON' : how < 0.7 ? 'binary' : 'gRPC'}): got ${JSON.stringify(got)?.slice(0, 200)}, want ${JSON.stringify(want)}`);
    };
    try {
      let next = 0;
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (next < 480) await one(next++);
      }));
    } finally {
      client.close();
    }
    const after = await batches();
    console.log(`[97.server.fuzz] mixed traffic: ${good} good requests, ${hostileCount} hostile, ${after.count - before.count} batched requests served in runs of ${((after.sum - before.sum) / Math.max(1, after.count - before.count)).toFixed(1)} requests on average`);
    expect(problems).toEqual([]);
    expect(good).toBeGreaterThan(150);
    // Requests did share runs: what this test is about.
    expect((after.sum - before.sum) / (after.count - before.count)).toBeGreaterThan(1.5);
    expect(await internalFailures()).toBe(0);
  });

  // A call the server leaves unanswered waits for its deadline: time enough for several to be reported.
  test(`gRPC: ${GRPC_REQUESTS} ModelInfer calls mutated within the proto's types, and bytes that are no message: each answered in time with a status code the spec names`, async () => {
    const definition = protoLoader.loadSync(join(__dirname, '..', 'lib', 'server', 'grpc_predict_v2.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const Service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService; // eslint-disable-line @typescript-eslint/no-explicit-any
    const client = new Service(grpcAddress, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 });
    const raw = new grpc.Client(grpcAddress, grpc.credentials.createInsecure());
    const random = prng(SEED + 1);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
    const strings = ['', 'x', 'y', 'x_FP32', 'linear', 'types', 'FP32', 'BYTES', 'INT64', 'BOOL', '__proto__', 'n'.repeat(100_000), 'é'];
    const shapes = [[], [2, 3], [3, 2], [0, 3], [2, 2], [1], ['9223372036854775807', '2'], ['-1', '3'], new Array(100_000).fill(1), [4294967296, 1]];
    const bytes = () => Buffer.from(Array.from({ length: pick([0, 1, 3, 4, 12, 16, 24, 1000]) }, () => Math.floor(random() * 256)));
    const problems: string[] = [];
    const codes = new Map<string, number>();
    const allowed = new Set([grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.RESOURCE_EXHAUSTED]);
    try {
      for (let i = 0; i < GRPC_REQUESTS; i++) {
        const garbage = random() < 0.15;
        const request: Json = {
          model_name: random() < 0.8 ? pick(['linear', 'types']) : pick(strings),
          model_version: random() < 0.8 ? '' : pick(['1', '2', '-1', 'n'.repeat(50_000)]),
          id: random() < 0.5 ? 'g' : pick(strings),
          inputs: [],
          raw_input_contents: [],
        };
        const model = request.model_name === 'types' ? 'types' : 'linear';
        const inputs = model === 'linear' ? [['x', 'FP32', Buffer.from(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer)]] : DATATYPES.map(([d]) => [`x_${d}`, d, Buffer.from(SAMPLES[d].raw)]);
        const typed = random() < 0.2;
        for (const [name, datatype, data] of inputs as [string, string, Buffer][]) {
          const input: Json = { name, datatype, shape: model === 'linear' ? [2, 3] : [2, 2] };
          if (random() < 0.15) input.name = pick(strings);
          if (random() < 0.15) input.datatype = pick(strings);
          if (random() < 0.2) input.shape = pick(shapes);
          if (typed) input.contents = { [pick(['fp32_contents', 'int_contents', 'int64_contents', 'bool_contents', 'bytes_contents', 'uint64_contents'])]: pick([[], [1, 2, 3, 4, 5, 6], [1], new Array(10_000).fill(0)]) };
          if (input.contents?.bytes_contents) input.contents.bytes_contents = input.contents.bytes_contents.map(() => bytes());
          if (input.contents?.bool_contents) input.contents.bool_contents = input.contents.bool_contents.map(Boolean);
          request.inputs.push(input);
          if (!typed) request.raw_input_contents.push(random() < 0.2 ? bytes() : data);
        }
        if (random() < 0.15) request.inputs.push({ name: pick(strings), datatype: pick(strings), shape: pick(shapes) });
        if (random() < 0.15) request.raw_input_contents.pop();
        if (random() < 0.2) request.outputs = [{ name: pick(strings) }, { name: 'y' }].slice(0, 1 + Math.floor(random() * 2));
        const where = `call ${i} (${garbage ? 'bytes that are no message' : `${String(request.model_name).slice(0, 20)}`})`;
        const outcome = await new Promise<{ code: number; details: string } | 'no answer'>((resolve) => {
          const deadline = new Date(Date.now() + 10_000);
          const done = (error: { code: number; details: string } | null) => resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, details: '' });
          if (garbage) {
            const payload = random() < 0.5 ? bytes() : Buffer.concat([bytes(), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])]);
            raw.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, payload, new grpc.Metadata(), { deadline }, done);
          } else {
            client.ModelInfer(request, new grpc.Metadata(), { deadline }, done);
          }
        }).then((o) => (o !== 'no answer' && o.code === grpc.status.DEADLINE_EXCEEDED ? 'no answer' : o));
        if (outcome === 'no answer') {
          problems.push(`${where}: no answer within 10 s`);
          continue;
        }
        codes.set(grpc.status[outcome.code], (codes.get(grpc.status[outcome.code]) ?? 0) + 1);
        // Bytes that are no ModelInferRequest fail in grpc-js's own decoding, before the server's code: INTERNAL there is grpc-js's answer.
        const ok = allowed.has(outcome.code) || (garbage && outcome.code === grpc.status.INTERNAL && /deserializ|parse/i.test(outcome.details));
        if (!ok) problems.push(`${where}: status ${grpc.status[outcome.code]}: ${outcome.details.slice(0, 300)}`);
        if (outcome.details.length > 1100) problems.push(`${where}: details of ${outcome.details.length} characters`);
        if (INTERNAL_MESSAGE.test(outcome.details)) problems.push(`${where}: a message of a JavaScript internal, not of the request: ${outcome.details}`);
      }
      console.log(`[97.server.fuzz] gRPC answers by status: ${[...codes].map(([s, n]) => `${s}: ${n}`).join(', ')}`);
      expect(problems).toEqual([]);
      expect(codes.get('OK') ?? 0).toBeGreaterThan(GRPC_REQUESTS * 0.05);
      expect(codes.get('INVALID_ARGUMENT') ?? 0).toBeGreaterThan(GRPC_REQUESTS * 0.2);
      const ready = await new Promise<Json>((resolve, reject) => client.ServerReady({}, (e: Error | null, r: Json) => (e ? reject(e) : resolve(r))));
      expect(ready).toEqual({ ready: true });
      expect(await internalFailures()).toBe(0);
    } finally {
      client.close();
      raw.close();
    }
  }, 180_000);
});
