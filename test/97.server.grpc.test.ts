// 97.server.grpc: the v2 gRPC front end end to end, driven by an independent @grpc/grpc-js client
// (the proto loaded by @grpc/proto-loader): every RPC, every datatype in raw contents, typed
// contents, and the spec's status codes for bad requests, backpressure, deadlines and cancellation.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesElements, DATATYPES, makeRepository, queueWaits, SAMPLES, TYPED, server as api, type ServerApi } from './97.server.support.js';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');

type Message = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Client = Record<string, (request: Message, metadata: unknown, options: { deadline?: Date }, callback: (error: (Error & { code: number; details: string }) | null, response: Message) => void) => { cancel(): void }>;

let srv: ServerApi.V2Server;
let client: Client;
let base: string;
let grpcAddress: string;
const MAX_MESSAGE = 2 * 2 ** 20;

/** The proto as shipped in the package (lib/server), loaded as any grpc-js client would. */
const PROTO = join(__dirname, '..', 'lib', 'server', 'grpc_predict_v2.proto');

beforeAll(async () => {
  const layout = await makeRepository();
  srv = api.createServer({ repository: layout.dir, http: { port: 0, host: '127.0.0.1' }, grpc: { port: 0, host: '127.0.0.1', maxMessageBytes: MAX_MESSAGE } });
  const addresses = await srv.start();
  base = addresses.http!;
  grpcAddress = addresses.grpc!;
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const Service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService; // eslint-disable-line @typescript-eslint/no-explicit-any
  client = new Service(addresses.grpc!, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 16 * 2 ** 20 });
});

afterAll(async () => {
  (client as unknown as { close?: () => void })?.close?.();
  await srv?.stop();
});

function call(method: string, request: Message, options: { deadlineMs?: number; cancelAfterMs?: number } = {}): Promise<Message> {
  return new Promise((resolve, reject) => {
    const deadline = options.deadlineMs === undefined ? undefined : new Date(Date.now() + options.deadlineMs);
    const pending = client[method](request, new grpc.Metadata(), deadline ? { deadline } : {}, (error, response) => (error ? reject(error) : resolve(response)));
    if (options.cancelAfterMs !== undefined) setTimeout(() => pending.cancel(), options.cancelAfterMs);
  });
}

async function failure(method: string, request: Message, options?: { deadlineMs?: number; cancelAfterMs?: number }): Promise<{ code: number; details: string }> {
  const error = await call(method, request, options).then(
    () => undefined,
    (e: { code: number; details: string }) => e,
  );
  if (!error) throw new Error(`${method} succeeded where it should have failed`);
  return error;
}

async function expectHealthy(): Promise<void> {
  expect(await call('ServerReady', {})).toEqual({ ready: true });
}

async function metric(pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(new RegExp(pattern.source, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}

const f32 = (values: number[]) => Buffer.from(Float32Array.from(values).buffer);
const linearRequest = (x: number[], extra: Message = {}) => ({ model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: [x.length / 3, 3] }], raw_input_contents: [f32(x)], ...extra });
const slowRequest = (v: number) => ({ model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1] }], raw_input_contents: [f32([v])] });

describe('gRPC health and metadata', () => {
  it('ServerLive, ServerReady, ServerMetadata', async () => {
    expect(await call('ServerLive', {})).toEqual({ live: true });
    expect(await call('ServerReady', {})).toEqual({ ready: true });
    expect(await call('ServerMetadata', {})).toEqual({ name: 'ort-napi', version: expect.any(String), extensions: ['binary_tensor_data', 'model_repository', 'model_configuration', 'statistics'] });
  });

  it('ModelReady and ModelMetadata, with and without a version; NOT_FOUND for unknown ones', async () => {
    expect(await call('ModelReady', { name: 'linear' })).toEqual({ ready: true });
    expect(await call('ModelReady', { name: 'versioned', version: '1' })).toEqual({ ready: true });
    expect(await call('ModelMetadata', { name: 'linear' })).toEqual({
      name: 'linear',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['-1', '3'] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: ['-1', '2'] }],
    });
    expect((await call('ModelMetadata', { name: 'versioned' })).versions).toEqual(['1', '2']);
    const unknown = await failure('ModelReady', { name: 'nope' });
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.details).toBe("unknown model 'nope'");
    expect((await failure('ModelMetadata', { name: 'linear', version: '3' })).code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('gRPC ModelInfer', () => {
  it('raw contents in and out: the README model, the id echoed', async () => {
    const res = await call('ModelInfer', linearRequest([1, 2, 3, 4, 5, 6], { id: 'g-1' }));
    expect(res).toMatchObject({ model_name: 'linear', model_version: '1', id: 'g-1', outputs: [{ name: 'y', datatype: 'FP32', shape: ['2', '2'] }] });
    expect(Array.from(new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer))).toEqual([4.5, 4.5, 10.5, 10.5]);
  });

  it('every datatype in raw_input_contents comes back byte for byte in raw_output_contents', async () => {
    const res = await call('ModelInfer', {
      model_name: 'types',
      model_version: '1',
      inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2] })),
      raw_input_contents: DATATYPES.map(([d]) => Buffer.from(SAMPLES[d].raw)),
    });
    expect(res.outputs.map((o: Message) => [o.name, o.datatype, o.shape])).toEqual(DATATYPES.map(([d]) => [`y_${d}`, d, ['2', '2']]));
    DATATYPES.forEach(([d], i) => expect(new Uint8Array(res.raw_output_contents[i])).toEqual(SAMPLES[d].raw));
  });

  it('typed contents: every field, each datatype decoded to the same bytes as its raw sample', async () => {
    const contents: Record<string, Message> = {
      BOOL: { bool_contents: [true, false, false, true] },
      UINT8: { uint_contents: [0, 1, 254, 255] },
      UINT16: { uint_contents: [0, 1, 65534, 65535] },
      UINT32: { uint_contents: [0, 1, 4294967294, 4294967295] },
      UINT64: { uint64_contents: ['0', '1', '9007199254740991', '12345'] },
      INT8: { int_contents: [-128, -1, 0, 127] },
      INT16: { int_contents: [-32768, -1, 0, 32767] },
      INT32: { int_contents: [-2147483648, -1, 0, 2147483647] },
      INT64: { int64_contents: ['-9007199254740991', '-1', '0', '9007199254740991'] },
      FP32: { fp32_contents: [1.5, -2.25, 1024, 0.1] },
      FP64: { fp64_contents: [0.1, -1e300, 5e-324, 1] },
      BYTES: { bytes_contents: ['hello', '', 'héllo ✓', 'x'].map((s) => Buffer.from(s)) },
    };
    expect(TYPED.map(([d]) => d)).toEqual(Object.keys(contents));
    const res = await call('ModelInfer', { model_name: 'typed', inputs: TYPED.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], contents: contents[d] })) });
    TYPED.forEach(([d], i) => expect([d, new Uint8Array(res.raw_output_contents[i])]).toEqual([d, SAMPLES[d].raw]));
    // FP16 and BF16 have no typed field: the error says to send them raw.
    const refused = await failure('ModelInfer', { model_name: 'types', inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], contents: contents[d] ?? {} })) });
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.details).toBe("input 'x_FP16': FP16 has no typed contents field; send it in raw_input_contents");
    // A typed value out of its datatype's range is refused, naming it.
    const range = await failure('ModelInfer', { model_name: 'typed', inputs: TYPED.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], contents: d === 'INT8' ? { int_contents: [0, 0, 0, 300] } : contents[d] })) });
    expect(range.details).toBe("input 'x_INT8' contents.int_contents (INT8): data[3] is 300, not an integer in [-128, 127]");
  });

  it('requested outputs only, in that order', async () => {
    const res = await call('ModelInfer', {
      model_name: 'types',
      inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2] })),
      raw_input_contents: DATATYPES.map(([d]) => Buffer.from(SAMPLES[d].raw)),
      outputs: [{ name: 'y_BYTES' }, { name: 'y_FP16' }],
    });
    expect(res.outputs.map((o: Message) => o.name)).toEqual(['y_BYTES', 'y_FP16']);
    expect(Buffer.from(res.raw_output_contents[0])).toEqual(bytesElements(['hello', '', 'héllo ✓', 'x']));
    // Asked for twice: answered once, where first asked for, one raw_output_contents entry.
    const twice = await call('ModelInfer', {
      model_name: 'types',
      inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2] })),
      raw_input_contents: DATATYPES.map(([d]) => Buffer.from(SAMPLES[d].raw)),
      outputs: [{ name: 'y_FP16' }, { name: 'y_BYTES' }, { name: 'y_FP16' }],
    });
    expect(twice.outputs.map((o: Message) => o.name)).toEqual(['y_FP16', 'y_BYTES']);
    expect(twice.raw_output_contents).toHaveLength(2);
  });
});

describe("gRPC ModelConfig (Triton's model configuration extension)", () => {
  it('the configuration GET .../config gives, in model_config.proto: max_batch_size, TYPE_* data types, dims, dynamic batching', async () => {
    // int64 dims come as strings (longs: String), as for any int64 this client reads.
    const numbers = (config: Message) => ({ ...config, input: config.input.map((t: Message) => ({ ...t, dims: t.dims.map(Number) })), output: config.output.map((t: Message) => ({ ...t, dims: t.dims.map(Number) })) });
    const batched = (await call('ModelConfig', { name: 'batched', version: '1' })).config;
    expect(numbers(batched)).toMatchObject({
      name: 'batched',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 8,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [3], optional: false }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [2] }],
      dynamic_batching: { max_queue_delay_microseconds: '50000', preferred_batch_size: [] },
    });
    const rest = await (await fetch(`${base}/v2/models/linear/config`)).json();
    const linear = (await call('ModelConfig', { name: 'linear' })).config;
    expect(numbers(linear)).toMatchObject({ ...rest, input: rest.input.map((t: Message) => ({ ...t, optional: false })) });
    expect(linear.dynamic_batching).toBeNull();
    const types = (await call('ModelConfig', { name: 'types' })).config;
    expect(types.input.map((t: Message) => t.data_type)).toEqual(DATATYPES.map(([d]) => (d === 'BYTES' ? 'TYPE_STRING' : `TYPE_${d}`)));
    const unknown = await failure('ModelConfig', { name: 'nope' });
    expect([unknown.code, unknown.details]).toEqual([grpc.status.NOT_FOUND, "unknown model 'nope'"]);
  });
});

describe("gRPC ModelStatistics (Triton's statistics extension)", () => {
  it('counts the calls that reached a model, as GET .../stats does; uint64 fields as Triton sends them; unknown models are NOT_FOUND', async () => {
    const stat = async () => (await call('ModelStatistics', { name: 'linear', version: '1' })).model_stats;
    const [before] = await stat();
    for (const x of [[1, 2, 3], [4, 5, 6, 7, 8, 9]]) await call('ModelInfer', linearRequest(x));
    await failure('ModelInfer', { ...linearRequest([1, 2, 3]), inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 3] }] });
    const stats = await stat();
    expect(stats).toHaveLength(1);
    const [after] = stats;
    expect(after).toMatchObject({ name: 'linear', version: '1' });
    const count = (s: Message, key: string) => Number(s.inference_stats[key].count);
    expect(count(after, 'success') - count(before, 'success')).toBe(2);
    expect(count(after, 'fail') - count(before, 'fail')).toBe(1);
    expect(count(after, 'compute_infer') - count(before, 'compute_infer')).toBe(2);
    expect(Number(after.execution_count) - Number(before.execution_count)).toBe(2);
    expect(Number(after.inference_count) - Number(before.inference_count)).toBe(2);
    expect(BigInt(after.inference_stats.compute_infer.ns)).toBeGreaterThan(BigInt(before.inference_stats.compute_infer.ns));
    expect(Math.abs(Number(after.last_inference) - Date.now())).toBeLessThan(60_000);
    expect(after.batch_stats).toContainEqual(expect.objectContaining({ batch_size: '1' }));
    // The same figures over REST (nothing ran in between).
    const rest = (await (await fetch(`${base}/v2/models/linear/versions/1/stats`)).json()).model_stats[0];
    expect([rest.inference_stats.success.count, rest.execution_count, rest.inference_stats.compute_infer.ns]).toEqual([count(after, 'success'), Number(after.execution_count), Number(after.inference_stats.compute_infer.ns)]);
    // Every loaded model's, with no name; one model's versions, with no version.
    const all = (await call('ModelStatistics', {})).model_stats.map((s: Message) => `${s.name}/${s.version}`);
    expect(all).toEqual(expect.arrayContaining(['linear/1', 'versioned/1', 'versioned/2']));
    expect((await call('ModelStatistics', { name: 'versioned' })).model_stats.map((s: Message) => s.version)).toEqual(['1', '2']);
    const unknown = await failure('ModelStatistics', { name: 'nope' });
    expect([unknown.code, unknown.details]).toEqual([grpc.status.NOT_FOUND, "unknown model 'nope'"]);
    await expectHealthy();
  });
});

describe("gRPC model repository (Triton's RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload)", () => {
  it('index, unload (UNAVAILABLE after, not ready), load again; parameters the server would not honour are refused', async () => {
    const index = (await call('RepositoryIndex', {})).models;
    expect(index).toEqual(expect.arrayContaining([{ name: 'linear', version: '1', state: 'READY', reason: '' }, { name: 'versioned', version: '2', state: 'READY', reason: '' }]));
    expect(await call('RepositoryModelUnload', { model_name: 'versioned', parameters: { unload_dependents: { bool_param: true } } })).toEqual({});
    const after = await failure('ModelInfer', { model_name: 'versioned', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [f32([1])] });
    expect([after.code, after.details]).toEqual([grpc.status.UNAVAILABLE, "model 'versioned' is not loaded (unavailable: unloaded)"]);
    expect(await call('ModelReady', { name: 'versioned' })).toEqual({ ready: false });
    expect((await call('RepositoryIndex', {})).models).toContainEqual({ name: 'versioned', version: '', state: 'UNAVAILABLE', reason: 'unloaded' });
    expect((await call('RepositoryIndex', { ready: true })).models.map((m: Message) => m.name)).not.toContain('versioned');
    // A config sent with the load would be ignored: refused instead, and nothing loads.
    const config = await failure('RepositoryModelLoad', { model_name: 'versioned', parameters: { config: { string_param: '{"max_batch_size": 8}' } } });
    expect(config.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(config.details).toMatch(/^the load parameter 'config' is not supported: a model loads from its folder in the repository/);
    expect(await call('ModelReady', { name: 'versioned' })).toEqual({ ready: false });
    expect(await call('RepositoryModelLoad', { model_name: 'versioned' })).toEqual({});
    const back = await call('ModelInfer', { model_name: 'versioned', model_version: '1', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [f32([2])] });
    expect(Array.from(new Float32Array(new Uint8Array(back.raw_output_contents[0]).buffer))).toEqual([-2]);
    const unknown = await failure('RepositoryModelLoad', { model_name: 'nope' });
    expect([unknown.code, unknown.details]).toEqual([grpc.status.NOT_FOUND, "unknown model 'nope': the repository has no such model"]);
    const unnamed = await failure('RepositoryModelUnload', {});
    expect([unnamed.code, unnamed.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'the unload request names no model (model_name)']);
    const other = await failure('RepositoryModelUnload', { model_name: 'versioned', parameters: { keep: { bool_param: true } } });
    expect([other.code, other.details]).toEqual([grpc.status.INVALID_ARGUMENT, "the unload parameter 'keep' is not supported: the only one is 'unload_dependents'"]);
    await expectHealthy();
  });
});

describe('gRPC errors carry the spec status codes and leave the server healthy', () => {
  const cases: [string, Message, number, RegExp][] = [
    ['unknown model', { ...linearRequest([1, 2, 3]), model_name: 'nope' }, grpc.status.NOT_FOUND, /unknown model 'nope'/],
    ['unknown version', { ...linearRequest([1, 2, 3]), model_version: '4' }, grpc.status.NOT_FOUND, /has no version '4'/],
    ['wrong datatype', { model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 3] }], raw_input_contents: [Buffer.alloc(24)] }, grpc.status.INVALID_ARGUMENT, /expects FP32/],
    ['raw size that does not fit the shape', { model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3] }], raw_input_contents: [f32([1, 2, 3])] }, grpc.status.INVALID_ARGUMENT, /12 bytes of binary data but shape \[2,3\] needs 24/],
    ['a shape the model does not take', { model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 1] }], raw_input_contents: [f32([1, 2, 3])] }, grpc.status.INVALID_ARGUMENT, /dims\[1\] = 1, but the model fixes it at 3/],
    ['raw contents for some inputs only', { model_name: 'types', inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2] })), raw_input_contents: [Buffer.from(SAMPLES.BOOL.raw)] }, grpc.status.INVALID_ARGUMENT, /raw_input_contents has 1 entries but there are 14 inputs/],
    ['no contents at all', { model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3] }] }, grpc.status.INVALID_ARGUMENT, /input 'x' has no contents and the request no raw_input_contents/],
    ['unknown output', linearRequest([1, 2, 3], { outputs: [{ name: 'zz' }] }), grpc.status.INVALID_ARGUMENT, /has no output "zz"/],
    // Its message once listed all 100,000 dims: a trailer over the client's header limit, and the call never ended.
    ['a shape of 100,000 dims: answered, the message short', { model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: new Array(100_000).fill(1) }], raw_input_contents: [f32([1, 2, 3])] }, grpc.status.INVALID_ARGUMENT, /^input 'x' \(FP32\): 12 bytes of binary data but shape \[1,1,1,1,1,1,1,1,\.\.\.\] \(100000 dims\) needs 4 \(1 x 4\)$/],
    ['a model name of 1 MB: named shortened', { ...linearRequest([1, 2, 3]), model_name: 'm'.repeat(2 ** 20) }, grpc.status.NOT_FOUND, /^unknown model "m{39}\.\.\.$/],
    ['typed contents in the field of another datatype', { model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], contents: { int_contents: [1, 2, 3] } }] }, grpc.status.INVALID_ARGUMENT, /input 'x': FP32 takes contents.fp32_contents, but the request filled contents.int_contents/],
  ];

  it.each(cases)('%s', async (_name, request, code, message) => {
    const error = await failure('ModelInfer', request);
    expect(error.code).toBe(code);
    expect(error.details).toMatch(message);
    await expectHealthy();
  });

  it('a message that is not protobuf (raw HTTP/2 bytes): an error status, and the server healthy', async () => {
    const http2 = await import('node:http2');
    const session = http2.connect(`http://${grpcAddress}`);
    const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer', 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('trailers', (t) => resolve(t as Record<string, unknown>));
      stream.on('response', (headers) => headers['grpc-status'] !== undefined && resolve(headers as Record<string, unknown>)); // a trailers-only answer
      stream.on('error', reject);
      stream.end(Buffer.from([0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])); // 7 bytes that decode as no message
      stream.resume();
    });
    session.close();
    expect(trailers['grpc-status']).toBe(String(grpc.status.INTERNAL));
    expect(decodeURIComponent(String(trailers['grpc-message']))).toBe('Error deserializing request');
    await expectHealthy();
  });

  it('a message over the limit: RESOURCE_EXHAUSTED', async () => {
    const error = await failure('ModelInfer', { model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: [262144, 3] }], raw_input_contents: [Buffer.alloc(262144 * 12)] });
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await expectHealthy();
  });

  it('compressed messages (grpc-encoding gzip, deflate) are answered; one that inflates past the limit is RESOURCE_EXHAUSTED', async () => {
    const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const Service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const algorithm of [grpc.compressionAlgorithms.gzip, grpc.compressionAlgorithms.deflate]) {
      const compressing = new Service(grpcAddress, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': algorithm, 'grpc.max_send_message_length': 64 * 2 ** 20 });
      const send = (request: Message) =>
        new Promise<Message>((resolve, reject) => compressing.ModelInfer(request, (error: Error | null, response: Message) => (error ? reject(error) : resolve(response))));
      try {
        const res = await send(linearRequest([1, 2, 3, 4, 5, 6]));
        expect(Array.from(new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer))).toEqual([4.5, 4.5, 10.5, 10.5]);
        // 8 MiB of zeros travels as a few KB and inflates past the server's 2 MiB: refused while inflating.
        const bomb = await send({ model_name: 'linear', inputs: [{ name: 'x', datatype: 'FP32', shape: [699051, 3] }], raw_input_contents: [Buffer.alloc(699051 * 12)] }).then(
          () => undefined,
          (e: { code: number; details: string }) => e,
        );
        expect([bomb?.code, bomb?.details]).toEqual([grpc.status.RESOURCE_EXHAUSTED, `Received message that decompresses to a size larger than ${MAX_MESSAGE}`]);
      } finally {
        compressing.close();
      }
    }
    await expectHealthy();
  });

  it('a full queue: RESOURCE_EXHAUSTED, and the calls accepted finish', async () => {
    const first = call('ModelInfer', slowRequest(1));
    await new Promise((r) => setTimeout(r, 50));
    const second = call('ModelInfer', slowRequest(2));
    await new Promise((r) => setTimeout(r, 50));
    const third = await failure('ModelInfer', slowRequest(3));
    expect(third.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(third.details).toMatch(/queue is full/);
    const [a, b] = await Promise.all([first, second]);
    expect(new Float32Array(new Uint8Array(a.raw_output_contents[0]).buffer)[0]).toBe(1);
    expect(new Float32Array(new Uint8Array(b.raw_output_contents[0]).buffer)[0]).toBe(2);
    await expectHealthy();
  });

  it('a deadline: DEADLINE_EXCEEDED, and the run is stopped', async () => {
    const before = await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="grpc",reason="(?:deadline_exceeded|cancelled)"\} (\S+)$/);
    const error = await failure('ModelInfer', slowRequest(1), { deadlineMs: 60 });
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    for (let i = 0; i < 50 && (await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="grpc",reason="(?:deadline_exceeded|cancelled)"\} (\S+)$/)) === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="grpc",reason="(?:deadline_exceeded|cancelled)"\} (\S+)$/)).toBe(before + 1);
    // The expired run is terminated: the next call does not queue behind it.
    const waits = await queueWaits(base, 'slow');
    await call('ModelInfer', slowRequest(7));
    expect(await queueWaits(base, 'slow')).toEqual({ count: waits.count + 1, under100ms: waits.under100ms + 1 });
    await expectHealthy();
  });

  it('a cancelled call: CANCELLED for the client, its request cancelled on the server', async () => {
    const before = await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="grpc",reason="cancelled"\} (\S+)$/);
    const error = await failure('ModelInfer', slowRequest(1), { cancelAfterMs: 50 });
    expect(error.code).toBe(grpc.status.CANCELLED);
    for (let i = 0; i < 50 && (await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="grpc",reason="cancelled"\} (\S+)$/)) === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="grpc",reason="cancelled"\} (\S+)$/)).toBe(before + 1);
    await expectHealthy();
  });

  it('an unloaded model: ModelReady false, ModelInfer UNAVAILABLE', async () => {
    await srv.unloadModel('versioned');
    expect(await call('ModelReady', { name: 'versioned' })).toEqual({ ready: false });
    const error = await failure('ModelInfer', { model_name: 'versioned', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [f32([1])] });
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    await srv.loadModel('versioned');
    expect(await call('ModelReady', { name: 'versioned' })).toEqual({ ready: true });
  });
});
