// 97.server.support: what the server tests share: a model repository built in code (one Identity
// per v2 datatype, versions, a batched and a slow model), curl, v2 binary bodies, and the CLI.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type * as ServerApi from '../lib/server/index.js';
import { fastestRun, linear, random } from './support/models.js';
import { buildModel, type ElemType } from './support/onnx.js';
import { InferenceSession, Tensor } from './support/ort.js';

const require = createRequire(import.meta.url);
/** The server as users get it: the built dist/, through the package's own "./server" export. */
export const server: typeof ServerApi = require('ort-napi/server');
export type { ServerApi };

/** Every v2 datatype with its ONNX element type. */
export const DATATYPES: [string, ElemType][] = [
  ['BOOL', 'bool'], ['UINT8', 'uint8'], ['UINT16', 'uint16'], ['UINT32', 'uint32'], ['UINT64', 'uint64'],
  ['INT8', 'int8'], ['INT16', 'int16'], ['INT32', 'int32'], ['INT64', 'int64'],
  ['FP16', 'float16'], ['FP32', 'float32'], ['FP64', 'float64'], ['BYTES', 'string'], ['BF16', 'bfloat16'],
];

/** `types`: input `x_<DATATYPE>` [n, 2] -> Identity -> output `y_<DATATYPE>`, for each datatype. */
export const typesModel = (datatypes = DATATYPES) =>
  buildModel({
    inputs: datatypes.map(([d, type]) => ({ name: `x_${d}`, type, dims: ['n', 2] })),
    outputs: datatypes.map(([d, type]) => ({ name: `y_${d}`, type, dims: ['n', 2] })),
    nodes: datatypes.map(([d]) => ({ op: 'Identity', inputs: [`x_${d}`], outputs: [`y_${d}`] })),
  });

/** The datatypes gRPC's typed contents carry (all but FP16 and BF16, which go raw only). */
export const TYPED = DATATYPES.filter(([d]) => d !== 'FP16' && d !== 'BF16');

/**
 * The model of the example in Triton's binary tensor data extension document: input0 UINT32 [2, 2],
 * input1 BOOL [3] -> output0 FP32 [3, 2] (input1 as 0/1, twice across), output1 UINT32 [2, 2] (input0).
 */
export const tritonDocModel = () =>
  buildModel({
    opset: 17,
    inputs: [
      { name: 'input0', type: 'uint32', dims: [2, 2] },
      { name: 'input1', type: 'bool', dims: [3] },
    ],
    outputs: [
      { name: 'output0', type: 'float32', dims: [3, 2] },
      { name: 'output1', type: 'uint32', dims: [2, 2] },
    ],
    initializers: [{ name: 'axes', type: 'int64', dims: [1], data: new BigInt64Array([1n]) }],
    nodes: [
      { op: 'Cast', inputs: ['input1'], outputs: ['f'], attributes: { to: { i: 1 } } },
      { op: 'Unsqueeze', inputs: ['f', 'axes'], outputs: ['col'] },
      { op: 'Concat', inputs: ['col', 'col'], outputs: ['output0'], attributes: { axis: { i: 1 } } },
      { op: 'Identity', inputs: ['input0'], outputs: ['output1'] },
    ],
  });

/** y = op(x) over float32 [n]: versions that differ. */
const unary = (op: string) =>
  buildModel({ inputs: [{ name: 'x', type: 'float32', dims: ['n'] }], outputs: [{ name: 'y', type: 'float32', dims: ['n'] }], nodes: [{ op, inputs: ['x'], outputs: ['y'] }] });

/** x [1,1] -> Expand to [n,n] -> `layers` MatMuls by the identity -> ReduceMax -> y [1,1] = x: slow, with tiny messages. */
export function slowModel(layers: number, n = 384): Uint8Array {
  const w = new Float32Array(n * n);
  for (let i = 0; i < n; i++) w[i * n + i] = 1;
  const nodes = [{ op: 'Expand', inputs: ['x', 'shape'], outputs: ['h0'] }];
  for (let l = 0; l < layers; l++) nodes.push({ op: 'MatMul', inputs: [`h${l}`, 'w'], outputs: [`h${l + 1}`] });
  nodes.push({ op: 'ReduceMax', inputs: [`h${layers}`], outputs: ['y'] });
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: [1, 1] }],
    outputs: [{ name: 'y', type: 'float32', dims: [1, 1] }],
    initializers: [
      { name: 'shape', type: 'int64', dims: [2], data: new BigInt64Array([BigInt(n), BigInt(n)]) },
      { name: 'w', type: 'float32', dims: [n, n], data: w },
    ],
    nodes,
  });
}

/** A slow model whose one run takes at least `ms` here (the chain doubles until it does). */
export async function calibratedSlowModel(ms: number): Promise<{ model: Uint8Array; runMs: number }> {
  for (let layers = 8; ; layers *= 2) {
    const model = slowModel(layers);
    const session = await InferenceSession.create(model, { intraOpNumThreads: 1 });
    const x = new Tensor('float32', new Float32Array([1]), [1, 1]);
    session.runSync({ x }); // warm
    const runMs = fastestRun(() => session.runSync({ x }), ms);
    await session.release();
    if (runMs >= ms) return { model, runMs };
  }
}

function write(dir: string, path: string, data: Uint8Array | string): void {
  const file = join(dir, path);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, data);
}

export interface RepositoryLayout {
  dir: string;
  slowRunMs: number;
}

/**
 * A model repository on disk:
 * - linear/1 (the README's model), types/1 (every datatype), typed/1 (those with typed gRPC contents),
 * - versioned/1 (Neg), versioned/2 (Abs), config { versions: "all" },
 * - batched/1 (linear) with dynamic batching,
 * - slow/1: one run at a time, a queue of one.
 */
export async function makeRepository(slowMs = 300): Promise<RepositoryLayout> {
  const dir = mkdtempSync(join(tmpdir(), 'ort-napi-repo-'));
  write(dir, 'linear/1/model.onnx', linear());
  write(dir, 'types/1/model.onnx', typesModel());
  write(dir, 'typed/1/model.onnx', typesModel(TYPED));
  write(dir, 'versioned/1/model.onnx', unary('Neg'));
  write(dir, 'versioned/2/model.onnx', unary('Abs'));
  write(dir, 'versioned/config.json', JSON.stringify({ versions: 'all' }));
  write(dir, 'mymodel/1/model.onnx', tritonDocModel());
  write(dir, 'batched/1/model.onnx', linear());
  write(dir, 'batched/config.json', JSON.stringify({ batching: { maxBatchSize: 8, maxDelayMs: 50 } }));
  const slow = await calibratedSlowModel(slowMs);
  write(dir, 'slow/1/model.onnx', slow.model);
  write(dir, 'slow/config.json', JSON.stringify({ maxQueue: 1, sessionOptions: { maxConcurrentRuns: 1 } }));
  return { dir, slowRunMs: slow.runMs };
}

/**
 * curl's environment: ours without LD_PRELOAD. Under scripts/asan.sh the sanitizer's runtime is
 * preloaded into every process for the sake of node, and curl started with it hangs before it
 * prints anything (seen with `curl --version`). curl is the independent client here, not code
 * under test.
 */
export const curlEnv = (() => {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  return env;
})();

/** Whether curl is here; the tests that use it skip with this printed reason when it is not. */
export const curlMissing: string | undefined = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore', env: curlEnv, timeout: 10_000 });
    return undefined;
  } catch {
    return 'curl is not installed: the REST cases driven by curl are skipped (apt-get install curl)';
  }
})();
if (curlMissing) console.log(curlMissing);

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Runs curl with these arguments against `url`; resolves with the status, headers and body. */
export function curl(url: string, args: string[] = [], options: { timeoutMs?: number } = {}): Promise<CurlResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ort-napi-curl-'));
  const headerFile = join(dir, 'headers');
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-o', '-', '-D', headerFile, ...args, url], { encoding: 'buffer', maxBuffer: 256 * 2 ** 20, timeout: options.timeoutMs ?? 30_000, env: curlEnv }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(' ')} ${url} failed: ${error.message} ${stderr.toString()}`));
      const raw = require('node:fs').readFileSync(headerFile, 'utf8') as string;
      const blocks = raw.trim().split(/\r?\n\r?\n/);
      const last = blocks[blocks.length - 1].split(/\r?\n/);
      const status = Number(/^HTTP\/[0-9.]+ ([0-9]{3})/.exec(last[0])?.[1]);
      const headers: Record<string, string> = {};
      for (const line of last.slice(1)) {
        const at = line.indexOf(':');
        if (at > 0) headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status, headers, body: stdout, json: () => JSON.parse(stdout.toString('utf8')) });
    });
  });
}

/** A body of Triton's binary tensor extension: the JSON header, then each tensor's bytes. */
export function binaryBody(header: object, tensors: Uint8Array[]): { body: Buffer; headerLength: number } {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([head, ...tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))]), headerLength: head.length };
}

/** BYTES elements as the binary extension lays them out: a 4-byte little-endian length, then the bytes. */
export function bytesElements(strings: string[]): Buffer {
  return Buffer.concat(strings.flatMap((s) => {
    const b = Buffer.from(s, 'utf8');
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return [n, b];
  }));
}

/** Splits a binary response into its JSON header and its outputs' bytes, by binary_data_size. */
export function splitBinaryResponse(body: Buffer, headerLength: number): { header: any; parts: Record<string, Buffer> } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const header = JSON.parse(body.subarray(0, headerLength).toString('utf8'));
  const parts: Record<string, Buffer> = {};
  let at = headerLength;
  for (const out of header.outputs) {
    const size = out.parameters?.binary_data_size;
    if (size === undefined) continue;
    parts[out.name] = body.subarray(at, at + size);
    at += size;
  }
  if (at !== body.length) throw new Error(`binary response has ${body.length - at} bytes beyond its outputs`);
  return { header, parts };
}

/**
 * Values for each datatype, [2, 2], that survive the trip (exact in their type): JSON values sent,
 * the JSON values expected back, and the raw bytes of the same tensor.
 */
export const SAMPLES: Record<string, { json: unknown[]; back: unknown[]; raw: Uint8Array }> = (() => {
  const half = (bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);
  const s: Record<string, { json: unknown[]; back?: unknown[]; raw: Uint8Array }> = {
    BOOL: { json: [true, false, false, true], raw: Uint8Array.from([1, 0, 0, 1]) },
    UINT8: { json: [0, 1, 254, 255], raw: Uint8Array.from([0, 1, 254, 255]) },
    UINT16: { json: [0, 1, 65534, 65535], raw: new Uint8Array(Uint16Array.from([0, 1, 65534, 65535]).buffer) },
    UINT32: { json: [0, 1, 4294967294, 4294967295], raw: new Uint8Array(Uint32Array.from([0, 1, 4294967294, 4294967295]).buffer) },
    UINT64: { json: [0, 1, 2 ** 53 - 1, 12345], raw: new Uint8Array(BigUint64Array.from([0n, 1n, 2n ** 53n - 1n, 12345n]).buffer) },
    INT8: { json: [-128, -1, 0, 127], raw: new Uint8Array(Int8Array.from([-128, -1, 0, 127]).buffer) },
    INT16: { json: [-32768, -1, 0, 32767], raw: new Uint8Array(Int16Array.from([-32768, -1, 0, 32767]).buffer) },
    INT32: { json: [-2147483648, -1, 0, 2147483647], raw: new Uint8Array(Int32Array.from([-2147483648, -1, 0, 2147483647]).buffer) },
    INT64: { json: [-(2 ** 53 - 1), -1, 0, 2 ** 53 - 1], raw: new Uint8Array(BigInt64Array.from([-(2n ** 53n - 1n), -1n, 0n, 2n ** 53n - 1n]).buffer) },
    // Half: 0.5, -2, 65504 (the largest), 1.5.
    FP16: { json: [0.5, -2, 65504, 1.5], raw: half([0x3800, 0xc000, 0x7bff, 0x3e00]) },
    FP32: { json: [1.5, -2.25, 1024, 0.1], back: [1.5, -2.25, 1024, Math.fround(0.1)], raw: new Uint8Array(Float32Array.from([1.5, -2.25, 1024, 0.1]).buffer) },
    FP64: { json: [0.1, -1e300, 5e-324, 1], raw: new Uint8Array(Float64Array.from([0.1, -1e300, 5e-324, 1]).buffer) },
    BYTES: { json: ['hello', '', 'héllo ✓', 'x'], raw: new Uint8Array(bytesElements(['hello', '', 'héllo ✓', 'x'])) },
    // bfloat16: 1, -2, 0.5, 3.140625.
    BF16: { json: [1, -2, 0.5, 3.140625], raw: half([0x3f80, 0xc000, 0x3f00, 0x4049]) },
  };
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, { json: v.json, back: v.back ?? v.json, raw: v.raw }]));
})();

/** What `linear` (the README's model: y = x W + b, W = [[1, 0], [0, 1], [1, 1]], b = [0.5, -0.5]) answers, in float32. */
export const expectedLinear = (x: number[]) => {
  const out: number[] = [];
  for (let r = 0; r < x.length / 3; r++) {
    const [a, b, c] = x.slice(r * 3, r * 3 + 3);
    out.push(Math.fround(Math.fround(a + c) + 0.5), Math.fround(Math.fround(b + c) - 0.5));
  }
  return out;
};

export const randomRows = (rows: number, seed: number) => Array.from(random(rows * 3, seed), (v) => Math.fround(v));

declare global {
  // The tests read the server's JSON answers loosely (their shapes are what the assertions check).
  interface Response {
    json(): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}

/**
 * How many of a model's requests waited in its queue, and how many of them under 0.1 s (from the
 * queue-time histogram): a request queued behind a run that goes on waits as long as that run.
 */
export async function queueWaits(base: string, model: string): Promise<{ count: number; under100ms: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    count: read(new RegExp(`^ort_napi_inference_queue_duration_seconds_count\\{model="${model}",version="1"\\} (\\S+)$`, 'm')),
    under100ms: read(new RegExp(`^ort_napi_inference_queue_duration_seconds_bucket\\{le="0.1",model="${model}",version="1"\\} (\\S+)$`, 'm')),
  };
}

export interface ServeProcess {
  child: ChildProcess;
  http: string;
  grpc?: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/**
 * Starts `ort-napi serve ...` (the built dist/cli.js) and resolves once it printed where it listens
 * (with --workers, once it printed how many). `children` collects the process, for the caller to kill.
 */
export function startCli(args: string[], children: ChildProcess[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [join(resolve(__dirname, '..'), 'dist', 'cli.js'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolvePromise, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      const http = /HTTP (\S+)/.exec(stdout)?.[1];
      const grpcAt = /gRPC (\S+)/.exec(stdout)?.[1];
      if (!http || (!grpcAt && !args.includes('--no-grpc')) || (args.includes('--workers') && !/\d+ workers/.test(stdout))) return;
      resolvePromise({ child, http, grpc: grpcAt, stdout: () => stdout, stderr: () => stderr, exited });
    });
    exited.then((code) => reject(new Error(`ort-napi serve exited (${code}) before listening: ${stderr}`)));
  });
}
