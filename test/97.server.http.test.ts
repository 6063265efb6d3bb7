// 97.server.http: the v2 REST front end end to end: a real server on a loopback port, driven by curl
// (JSON and binary) and fetch, on models built here; every endpoint, every datatype, bad requests
// (each answered with the spec's error, the server healthy after), backpressure, deadlines, disconnects.
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionalEcho } from './support/models.js';
import { binaryBody, curl, curlEnv, curlMissing, DATATYPES, expectedLinear, makeRepository, queueWaits, randomRows, SAMPLES, server as api, splitBinaryResponse, type ServerApi } from './97.server.support.js';

let srv: ServerApi.V2Server;
let base: string;
const BODY_LIMIT = 4 * 2 ** 20;

beforeAll(async () => {
  const layout = await makeRepository();
  srv = api.createServer({ repository: layout.dir, http: { port: 0, host: '127.0.0.1', bodyLimit: BODY_LIMIT } });
  const addresses = await srv.start();
  base = addresses.http!;
});

afterAll(async () => {
  await srv?.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + path, { method: 'POST', body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

async function expectHealthy(): Promise<void> {
  const ready = await fetch(`${base}/v2/health/ready`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ ready: true });
}

async function metric(pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return [...text.matchAll(new RegExp(pattern.source, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
}

const slowInfer = (v: number) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [v] }] });

const linearInfer = (rows: number[], extra: object = {}) => ({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length / 3, 3], data: rows }], ...extra });

describe('health and metadata (curl)', () => {
  it.skipIf(curlMissing)('GET /v2/health/live, /v2/health/ready and /v2 answer as the spec says', async () => {
    const live = await curl(`${base}/v2/health/live`);
    expect(live.status).toBe(200);
    expect(live.json()).toEqual({ live: true });
    const ready = await curl(`${base}/v2/health/ready`);
    expect(ready.status).toBe(200);
    const meta = await curl(`${base}/v2`);
    expect(meta.status).toBe(200);
    expect(meta.json()).toEqual({ name: 'ort-napi', version: expect.any(String), extensions: ['binary_tensor_data', 'model_repository', 'model_configuration', 'statistics'] });
  });

  it.skipIf(curlMissing)("model configuration (Triton's extension, which its clients and perf_analyzer read): max_batch_size and dims as Triton shows them", async () => {
    // Unbatched: max_batch_size 0, whole dims.
    const linear = await curl(`${base}/v2/models/linear/config`);
    expect(linear.status).toBe(200);
    expect(linear.json()).toEqual({
      name: 'linear',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 0,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, 3] }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [-1, 2] }],
    });
    // Batched (maxBatchSize 8, maxDelayMs 50): the batch limit, dims without the batch dim.
    expect((await curl(`${base}/v2/models/batched/versions/1/config`)).json()).toEqual({
      name: 'batched',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 8,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [3] }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [2] }],
      dynamic_batching: { max_queue_delay_microseconds: 50_000, preferred_batch_size: [] },
    });
    // Every v2 datatype by its model_config.proto name: BYTES is TYPE_STRING.
    const types = (await curl(`${base}/v2/models/types/config`)).json();
    expect(types.input.map((t: { data_type: string }) => t.data_type)).toEqual(DATATYPES.map(([d]) => (d === 'BYTES' ? 'TYPE_STRING' : `TYPE_${d}`)));
    const unknown = await curl(`${base}/v2/models/nope/config`);
    expect([unknown.status, unknown.json()]).toEqual([404, { error: "unknown model 'nope'" }]);
    expect((await curl(`${base}/v2/models/linear/versions/3/config`)).status).toBe(404);
  });

  it.skipIf(curlMissing)('model metadata names inputs and outputs with v2 datatypes and -1 for dynamic dims', async () => {
    const meta = await curl(`${base}/v2/models/linear`);
    expect(meta.status).toBe(200);
    expect(meta.json()).toEqual({
      name: 'linear',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
    });
    const types = (await curl(`${base}/v2/models/types/versions/1`)).json();
    expect(types.inputs.map((t: { datatype: string }) => t.datatype)).toEqual(DATATYPES.map(([d]) => d));
  });

  it.skipIf(curlMissing)('versions: each is served at its own path; without one, the highest', async () => {
    expect((await curl(`${base}/v2/models/versioned`)).json().versions).toEqual(['1', '2']);
    const x = { inputs: [{ name: 'x', datatype: 'FP32', shape: [2], data: [-3, 4] }] };
    const args = ['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', JSON.stringify(x)];
    const v1 = await curl(`${base}/v2/models/versioned/versions/1/infer`, args);
    expect(v1.json()).toMatchObject({ model_name: 'versioned', model_version: '1', outputs: [{ name: 'y', data: [3, -4] }] });
    const v2 = await curl(`${base}/v2/models/versioned/versions/2/infer`, args);
    expect(v2.json()).toMatchObject({ model_version: '2', outputs: [{ data: [3, 4] }] });
    const latest = await curl(`${base}/v2/models/versioned/infer`, args);
    expect(latest.json().model_version).toBe('2');
    expect((await curl(`${base}/v2/models/versioned/versions/1/ready`)).status).toBe(200);
    const missing = await curl(`${base}/v2/models/versioned/versions/7/ready`);
    expect(missing.status).toBe(404);
    expect(missing.json().error).toContain("model 'versioned' has no version '7'");
  });

  it.skipIf(curlMissing)('model readiness: 200 for a loaded model, 404 {"error"} for an unknown one', async () => {
    const ready = await curl(`${base}/v2/models/linear/ready`);
    expect(ready.status).toBe(200);
    const unknown = await curl(`${base}/v2/models/nope/ready`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: "unknown model 'nope'" });
    await expectHealthy();
  });
});

describe('infer with JSON', () => {
  it.skipIf(curlMissing)('curl: the README model computes y = x W + b, the id echoed', async () => {
    const x = [1, 2, 3, 4, 5, 6];
    const res = await curl(`${base}/v2/models/linear/infer`, ['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', JSON.stringify(linearInfer(x, { id: 'req-1' }))]);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json()).toEqual({ model_name: 'linear', model_version: '1', id: 'req-1', outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 2], data: [4.5, 4.5, 10.5, 10.5] }] });
  });

  it('every datatype goes through and comes back with its values (nested data too)', async () => {
    const inputs = DATATYPES.map(([d], i) => ({
      name: `x_${d}`,
      datatype: d,
      shape: [2, 2],
      data: i % 2 === 0 ? SAMPLES[d].json : [SAMPLES[d].json.slice(0, 2), SAMPLES[d].json.slice(2)], // nested, row-major
    }));
    const res = await post('/v2/models/types/infer', { inputs });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(DATATYPES.map(([d]) => `y_${d}`));
    for (const [d] of DATATYPES) {
      expect(body.outputs.find((o: { name: string }) => o.name === `y_${d}`)).toEqual({ name: `y_${d}`, datatype: d, shape: [2, 2], data: SAMPLES[d].back });
    }
  });

  it('a large JSON request (read by the native reader) is answered as a small one (read by JSON.parse): every datatype, nested data, and the same refusals', async () => {
    const pad = 'p'.repeat(2048); // past the size from which the native reader goes first
    const typed = (nested: boolean) => ({
      inputs: DATATYPES.map(([d], i) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], data: nested && i % 2 === 1 ? [SAMPLES[d].json.slice(0, 2), SAMPLES[d].json.slice(2)] : SAMPLES[d].json })),
    });
    const bad = (d: string, data: unknown[]) => ({ inputs: DATATYPES.map(([t]) => ({ name: `x_${t}`, datatype: t, shape: [2, 2], data: t === d ? data : SAMPLES[t].json })) });
    const requests: [string, object][] = [
      ['types', typed(false)],
      ['types', typed(true)],
      ['linear', linearInfer(Array.from({ length: 300 }, (_, i) => Math.fround(Math.sin(i))))],
      ['types', bad('FP32', [1, 2, 'three', 4])],
      ['types', bad('INT8', [1, 2, 300, 4])],
      ['types', bad('BOOL', [1, 0, 1, 0])],
      ['types', bad('INT64', [1, 2, 3.5, 4])],
      ['linear', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2] }] }],
    ];
    for (const [model, request] of requests) {
      const small = await post(`/v2/models/${model}/infer`, { ...request, id: 'r' });
      const large = await post(`/v2/models/${model}/infer`, { ...request, id: pad });
      const [a, b] = [await small.json(), await large.json()];
      expect(large.status).toBe(small.status);
      expect({ ...b, id: 'r' }).toEqual(b.error === undefined ? a : { ...a, id: 'r' });
    }
    const x = Array.from({ length: 300 }, (_, i) => Math.fround(Math.sin(i)));
    const res = await post('/v2/models/linear/infer', linearInfer(x, { id: pad }));
    expect((await res.json()).outputs[0].data).toEqual(expectedLinear(x));
    // Malformed, and large: JSON.parse's own message.
    const broken = await post('/v2/models/linear/infer', JSON.stringify(linearInfer(x, { id: pad })).slice(0, -2));
    expect(broken.status).toBe(400);
    expect((await broken.json()).error).toMatch(/the request's JSON is malformed: .*JSON/);
    await expectHealthy();
  });

  it('INT64 takes decimal strings for values past 2^53, and answers with numbers', async () => {
    const res = await post('/v2/models/types/infer', {
      inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], data: d === 'INT64' ? ['9007199254740993', '-5', 0, 7] : SAMPLES[d].json })),
      outputs: [{ name: 'y_INT64' }],
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.outputs).toEqual([{ name: 'y_INT64', datatype: 'INT64', shape: [2, 2], data: [9007199254740992, -5, 0, 7] }]);
  });

  it('outputs: only those asked for, in the order asked', async () => {
    const res = await post('/v2/models/types/infer', {
      inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], data: SAMPLES[d].json })),
      outputs: [{ name: 'y_BYTES' }, { name: 'y_BOOL' }],
    });
    const body = await res.json();
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(['y_BYTES', 'y_BOOL']);
    // Asked for twice: answered once, where first asked for (Triton keeps requested names in a set).
    const twice = await post('/v2/models/types/infer', {
      inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], data: SAMPLES[d].json })),
      outputs: [{ name: 'y_BOOL' }, { name: 'y_FP32' }, { name: 'y_BOOL' }],
    });
    expect(twice.status).toBe(200);
    expect((await twice.json()).outputs.map((o: { name: string }) => o.name)).toEqual(['y_BOOL', 'y_FP32']);
  });
});

describe('optional inputs and outputs', () => {
  it('an ONNX optional input may be left out; an optional output the model leaves empty is absent from the answer', async () => {
    const local = api.createServer({ models: { maybe: { model: optionalEcho() } }, http: false, grpc: false });
    await local.start();
    try {
      const infer = async (body: object) => {
        const res = await local.http.inject({ method: 'POST', url: '/v2/models/maybe/infer', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        return { status: res.statusCode, body: res.json() };
      };
      const meta = (await local.http.inject({ method: 'GET', url: '/v2/models/maybe' })).json();
      expect(meta.inputs).toEqual([{ name: 'maybe', datatype: 'FP32', shape: [-1] }]);
      expect(meta.outputs).toEqual([{ name: 'has', datatype: 'BOOL', shape: [] }, { name: 'echo', datatype: 'FP32', shape: [-1] }]);
      // Triton's model configuration marks the optional input.
      const config = (await local.http.inject({ method: 'GET', url: '/v2/models/maybe/config' })).json();
      expect(config.input).toEqual([{ name: 'maybe', data_type: 'TYPE_FP32', dims: [-1], optional: true }]);
      const given = await infer({ inputs: [{ name: 'maybe', datatype: 'FP32', shape: [3], data: [1, 2.5, -3] }] });
      expect(given).toEqual({ status: 200, body: { model_name: 'maybe', model_version: '1', outputs: [{ name: 'has', datatype: 'BOOL', shape: [], data: [true] }, { name: 'echo', datatype: 'FP32', shape: [3], data: [1, 2.5, -3] }] } });
      const absent = await infer({ inputs: [] });
      expect(absent).toEqual({ status: 200, body: { model_name: 'maybe', model_version: '1', outputs: [{ name: 'has', datatype: 'BOOL', shape: [], data: [false] }] } });
      // Asked for by name, an empty optional output is still left out: there is no tensor to send.
      const asked = await infer({ inputs: [], outputs: [{ name: 'echo' }, { name: 'has' }] });
      expect(asked.body.outputs).toEqual([{ name: 'has', datatype: 'BOOL', shape: [], data: [false] }]);
    } finally {
      await local.stop();
    }
  });
});

describe('infer with binary tensors (Triton extension)', () => {
  const allBinary = () => {
    const header = {
      inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], parameters: { binary_data_size: SAMPLES[d].raw.byteLength } })),
      parameters: { binary_data_output: true },
    };
    return binaryBody(header, DATATYPES.map(([d]) => SAMPLES[d].raw));
  };

  it.skipIf(curlMissing)('curl: every datatype in binary, answered in binary, byte for byte', async () => {
    const { body, headerLength } = allBinary();
    const file = join(mkdtempSync(join(tmpdir(), 'ort-napi-bin-')), 'body.bin');
    writeFileSync(file, body);
    const res = await curl(`${base}/v2/models/types/infer`, ['-X', 'POST', '-H', 'content-type: application/octet-stream', '-H', `Inference-Header-Content-Length: ${headerLength}`, '--data-binary', `@${file}`]);
    expect(res.status).toBe(200);
    const length = Number(res.headers['inference-header-content-length']);
    expect(length).toBeGreaterThan(0);
    const { header, parts } = splitBinaryResponse(res.body, length);
    expect(header.model_name).toBe('types');
    for (const [d] of DATATYPES) {
      const out = header.outputs.find((o: { name: string }) => o.name === `y_${d}`);
      expect(out).toEqual({ name: `y_${d}`, datatype: d, shape: [2, 2], parameters: { binary_data_size: SAMPLES[d].raw.byteLength } });
      expect(new Uint8Array(parts[`y_${d}`])).toEqual(SAMPLES[d].raw);
    }
  });

  it("the example of Triton's binary tensor data document, byte for byte as it is written there", async () => {
    // The request as the document writes it (its JSON as printed there), then 16 bytes for input0
    // and 3 for input1 (19 bytes); output0 asked in binary. The document's answer: output0 [3, 2]
    // FP32, 24 bytes after the JSON header.
    const header = `{
  "model_name" : "mymodel",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "parameters" : {
        "binary_data_size" : 16
      }
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "parameters" : {
        "binary_data_size" : 3
      }
    }
  ],
  "outputs" : [
    {
      "name" : "output0",
      "parameters" : {
        "binary_data" : true
      }
    }
  ]
}`;
    const body = Buffer.concat([Buffer.from(header), Buffer.from(Uint32Array.from([0, 1, 2, 3]).buffer), Buffer.from([1, 0, 1])]);
    const res = await post('/v2/models/mymodel/infer', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const bytes = Buffer.from(await res.arrayBuffer());
    const length = Number(res.headers.get('inference-header-content-length'));
    expect(bytes.length).toBe(length + 24);
    const { header: answer, parts } = splitBinaryResponse(bytes, length);
    expect(answer.outputs).toEqual([{ name: 'output0', shape: [3, 2], datatype: 'FP32', parameters: { binary_data_size: 24 } }]);
    expect(Array.from(new Float32Array(new Uint8Array(parts.output0).buffer))).toEqual([1, 1, 0, 0, 1, 1]);
    await expectHealthy();
  });

  it('binary in, JSON out unless asked; binary_data per output overrides binary_data_output', async () => {
    const { body, headerLength } = binaryBody(
      {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } }],
        outputs: [{ name: 'y' }],
      },
      [Float32Array.from([1, 2, 3])].map((a) => new Uint8Array(a.buffer)),
    );
    const json = await post('/v2/models/linear/infer', body, { 'inference-header-content-length': String(headerLength), 'content-type': 'application/octet-stream' });
    expect(json.status).toBe(200);
    expect(json.headers.get('inference-header-content-length')).toBeNull();
    expect((await json.json()).outputs[0].data).toEqual([4.5, 4.5]);

    const header = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }], outputs: [{ name: 'y', parameters: { binary_data: true } }] };
    const bin = await post('/v2/models/linear/infer', header);
    const length = Number(bin.headers.get('inference-header-content-length'));
    const { parts } = splitBinaryResponse(Buffer.from(await bin.arrayBuffer()), length);
    expect(Array.from(new Float32Array(new Uint8Array(parts.y).buffer))).toEqual([4.5, 4.5]);

    const off = await post('/v2/models/linear/infer', { ...header, parameters: { binary_data_output: true }, outputs: [{ name: 'y', parameters: { binary_data: false } }] });
    expect(off.headers.get('inference-header-content-length')).toBeNull();
    expect((await off.json()).outputs[0].data).toEqual([4.5, 4.5]);
  });

  it.skipIf(curlMissing)('a large tensor (3 MiB) goes through in binary', async () => {
    const rows = 262_144; // x: [rows, 3] float32 = 3 MiB
    const x = new Float32Array(rows * 3);
    for (let i = 0; i < x.length; i++) x[i] = (i % 7) - 3;
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3], parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }, [new Uint8Array(x.buffer)]);
    const file = join(mkdtempSync(join(tmpdir(), 'ort-napi-bin-')), 'big.bin');
    writeFileSync(file, body);
    const res = await curl(`${base}/v2/models/linear/infer`, ['-X', 'POST', '-H', `Inference-Header-Content-Length: ${headerLength}`, '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`]);
    expect(res.status).toBe(200);
    const { header, parts } = splitBinaryResponse(res.body, Number(res.headers['inference-header-content-length']));
    expect(header.outputs[0].shape).toEqual([rows, 2]);
    const y = new Float32Array(new Uint8Array(parts.y).buffer);
    expect(y.length).toBe(rows * 2);
    expect([y[0], y[1], y[y.length - 2], y[y.length - 1]]).toEqual(expectedLinear([x[0], x[1], x[2], x[x.length - 3], x[x.length - 2], x[x.length - 1]]));
  });
});

describe("content codings (Triton's clients: request_compression_algorithm, response_compression_algorithm)", () => {
  const CODINGS: [string, (b: Buffer) => Buffer][] = [
    ['gzip', gzipSync],
    ['deflate', deflateSync], // the zlib format, as RFC 9110 has it
    ['deflate', deflateRawSync], // a bare deflate stream, as some clients send it
  ];

  it('request bodies in gzip or deflate (zlib or bare) are answered as the same bodies sent plain, JSON and binary', async () => {
    const json = Buffer.from(JSON.stringify(linearInfer([1, 2, 3, 4, 5, 6])));
    const binary = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] }, [new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer)]);
    const expected = { model_name: 'linear', model_version: '1', outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 2], data: expectedLinear([1, 2, 3, 4, 5, 6]) }] };
    for (const [coding, encode] of CODINGS) {
      const plain = await post('/v2/models/linear/infer', encode(json), { 'content-encoding': coding });
      expect([coding, plain.status, await plain.json()]).toEqual([coding, 200, expected]);
      // Inference-Header-Content-Length counts the JSON header before compression.
      const bin = await post('/v2/models/linear/infer', encode(binary.body), { 'content-encoding': coding, 'content-type': 'application/octet-stream', 'inference-header-content-length': String(binary.headerLength) });
      expect([coding, bin.status, await bin.json()]).toEqual([coding, 200, expected]);
    }
    const identity = await post('/v2/models/linear/infer', json, { 'content-encoding': 'identity' });
    expect(await identity.json()).toEqual(expected);
  });

  it.skipIf(curlMissing)('responses of 1 KiB or more go compressed when the client accepts gzip or deflate (curl)', async () => {
    const rows = Array.from({ length: 300 * 3 }, (_, i) => (i % 11) - 5);
    const file = join(mkdtempSync(join(tmpdir(), 'ort-napi-coding-')), 'body.json');
    writeFileSync(file, JSON.stringify(linearInfer(rows)));
    const ask = (accept?: string, extra: string[] = []) =>
      curl(`${base}/v2/models/linear/infer`, ['-X', 'POST', '-H', 'content-type: application/json', ...(accept === undefined ? [] : ['-H', `Accept-Encoding: ${accept}`]), ...extra, '--data-binary', `@${file}`]);
    const plain = await ask();
    expect(plain.headers['content-encoding']).toBeUndefined();
    const expected = plain.json();
    expect(expected.outputs[0].data).toEqual(expectedLinear(rows));

    const gz = await ask('gzip');
    expect([gz.status, gz.headers['content-encoding'], gz.headers.vary]).toEqual([200, 'gzip', 'accept-encoding']);
    expect(JSON.parse(gunzipSync(gz.body).toString())).toEqual(expected);
    expect(gz.body.length).toBeLessThan(plain.body.length / 2);
    const deflated = await ask('gzip;q=0.5, deflate');
    expect(deflated.headers['content-encoding']).toBe('deflate');
    expect(JSON.parse(inflateSync(deflated.body).toString())).toEqual(expected);
    // curl --compressed asks for what it decodes and decodes it: the client's view end to end.
    const decoded = await ask(undefined, ['--compressed']);
    expect(decoded.json()).toEqual(expected);
    // Nothing it can use: the body as it is.
    for (const accept of ['br', 'gzip;q=0', 'identity']) expect((await ask(accept)).headers['content-encoding']).toBeUndefined();

    // Binary: the whole body compressed; Inference-Header-Content-Length counts the header uncompressed.
    writeFileSync(file, JSON.stringify(linearInfer(rows, { parameters: { binary_data_output: true } })));
    const bin = await ask('gzip');
    expect(bin.headers['content-encoding']).toBe('gzip');
    const { header, parts } = splitBinaryResponse(gunzipSync(bin.body), Number(bin.headers['inference-header-content-length']));
    expect(header.outputs[0].shape).toEqual([300, 2]);
    expect(Array.from(new Float32Array(new Uint8Array(parts.y).buffer))).toEqual(expectedLinear(rows));

    // A small answer goes as it is.
    writeFileSync(file, JSON.stringify(linearInfer([1, 2, 3])));
    const small = await ask('gzip');
    expect([small.headers['content-encoding'], small.json().outputs[0].data]).toEqual([undefined, [4.5, 4.5]]);
  });
});

describe('bad requests get the spec error and leave the server healthy', () => {
  const cases: [string, () => Promise<Response>, number, RegExp][] = [
    ['unknown model', () => post('/v2/models/nope/infer', linearInfer([1, 2, 3])), 404, /unknown model 'nope'/],
    ['unknown version', () => post('/v2/models/linear/versions/9/infer', linearInfer([1, 2, 3])), 404, /model 'linear' has no version '9'/],
    ['wrong shape (data length)', () => post('/v2/models/linear/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3] }] }), 400, /input 'x': data has 3 elements but shape \[2,3\] needs 6/],
    ['wrong shape (the model fixes a dim)', () => post('/v2/models/linear/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] }] }), 400, /dims\[1\] = 2, but the model fixes it at 3/],
    ['wrong datatype', () => post('/v2/models/linear/infer', { inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 3], data: [1, 2, 3] }] }), 400, /input 'x' has datatype "INT32", but model 'linear' expects FP32/],
    ['not a v2 datatype', () => post('/v2/models/linear/infer', { inputs: [{ name: 'x', datatype: 'FLOAT', shape: [1, 3], data: [1, 2, 3] }] }), 400, /input 'x' has datatype "FLOAT", but model 'linear' expects FP32/],
    ['a value of the wrong type', () => post('/v2/models/linear/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 'two', 3] }] }), 400, /input 'x' \(FP32\): data\[1\] is "two", not a number/],
    ['an integer out of range', () => post('/v2/models/types/infer', { inputs: DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], data: d === 'UINT8' ? [0, 1, 2, 256] : SAMPLES[d].json })) }), 400, /input 'x_UINT8' \(UINT8\): data\[3\] is 256, not an integer in \[0, 255\]/],
    ['unknown input', () => post('/v2/models/linear/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }, { name: 'z', datatype: 'FP32', shape: [1], data: [1] }] }), 400, /model 'linear' has no input 'z'/],
    ['missing input', () => post('/v2/models/types/infer', { inputs: [{ name: 'x_BOOL', datatype: 'BOOL', shape: [2, 2], data: SAMPLES.BOOL.json }] }), 400, /needs inputs 'x_UINT8'/],
    ['unknown output', () => post('/v2/models/linear/infer', linearInfer([1, 2, 3], { outputs: [{ name: 'q' }] })), 400, /model 'linear' has no output "q"/],
    ['malformed JSON', () => post('/v2/models/linear/infer', '{"inputs": [{'), 400, /the request's JSON is malformed/],
    ['no inputs', () => post('/v2/models/linear/infer', { outputs: [] }), 400, /"inputs": an array of tensors/],
    ['an empty inputs array, for a model that needs an input', () => post('/v2/models/linear/infer', { inputs: [] }), 400, /needs input 'x', which the request lacks/],
    ['no body', () => fetch(`${base}/v2/models/linear/infer`, { method: 'POST' }), 400, /the request has no body/],
    ['a bad Inference-Header-Content-Length', () => post('/v2/models/linear/infer', JSON.stringify(linearInfer([1, 2, 3])), { 'inference-header-content-length': '99999' }), 400, /Inference-Header-Content-Length is "99999", but the body has/],
    ['truncated binary body', () => {
      const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] }, [new Uint8Array(20)]);
      return post('/v2/models/linear/infer', body, { 'inference-header-content-length': String(headerLength) });
    }, 400, /binary_data_size is 24, but only 20 bytes of binary data remain/],
    ['binary size that does not fit the shape', () => {
      const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 20 } }] }, [new Uint8Array(20)]);
      return post('/v2/models/linear/infer', body, { 'inference-header-content-length': String(headerLength) });
    }, 400, /20 bytes of binary data but shape \[2,3\] needs 24/],
    ['bytes beyond the binary inputs', () => {
      const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } }] }, [new Uint8Array(16)]);
      return post('/v2/models/linear/infer', body, { 'inference-header-content-length': String(headerLength) });
    }, 400, /4 bytes of binary data beyond/],
    ['BYTES elements that overrun', () => {
      const inputs = DATATYPES.map(([d]) => ({ name: `x_${d}`, datatype: d, shape: [2, 2], parameters: { binary_data_size: d === 'BYTES' ? 8 : SAMPLES[d].raw.byteLength } }));
      const raws = DATATYPES.map(([d]) => (d === 'BYTES' ? Uint8Array.from([200, 0, 0, 0, 1, 2, 3, 4]) : SAMPLES[d].raw));
      const { body, headerLength } = binaryBody({ inputs }, raws);
      return post('/v2/models/types/infer', body, { 'inference-header-content-length': String(headerLength) });
    }, 400, /input 'x_BYTES' \(BYTES\): element 0 claims 200 bytes but only 4 remain/],
    ['an oversized body', () => post('/v2/models/linear/infer', Buffer.alloc(BODY_LIMIT + 1024, 32)), 413, /larger than the server's limit/],
    // 18 KB of gzip that inflates to 16 MiB: refused once the limit's bytes came out, never held whole.
    ['a small gzip body that inflates past the limit', () => post('/v2/models/linear/infer', gzipSync(Buffer.alloc(4 * BODY_LIMIT, 32)), { 'content-encoding': 'gzip' }), 413, /^the request body decodes \(gzip\) to more than the server's limit of 4194304 bytes$/],
    ['a body that is not the gzip its Content-Encoding says', () => post('/v2/models/linear/infer', linearInfer([1, 2, 3]), { 'content-encoding': 'gzip' }), 400, /^the request body is not valid gzip data \(incorrect header check\)$/],
    ['a Content-Encoding the server does not decode', () => post('/v2/models/linear/infer', linearInfer([1, 2, 3]), { 'content-encoding': 'br' }), 415, /^the request body's Content-Encoding "br" is not one this server decodes \(gzip, deflate, identity\)$/],
    ['a bad timeout header', () => post('/v2/models/linear/infer', linearInfer([1, 2, 3]), { 'inference-timeout-ms': 'soon' }), 400, /inference-timeout-ms header must be a number of milliseconds/],
    ['an unknown route', () => fetch(`${base}/v2/modelz`), 404, /no route GET \/v2\/modelz/],
    // The response echoes the id: the protocol's string, not any JSON (a deep one overflowed JSON.stringify).
    ['an id that is not a string', () => post('/v2/models/linear/infer', linearInfer([1, 2, 3], { id: { a: [1] } })), 400, /^"id" must be a string, got \{"a":\[1\]\}$/],
    ...(['JSON.parse', 'the native reader'] as const).map((reader): (typeof cases)[number] => {
      const deep = (leaf: string) => '['.repeat(100_000) + leaf + ']'.repeat(100_000);
      const pad = reader === 'JSON.parse' ? '' : `"id": "${'p'.repeat(2000)}", `; // from 1.5 KB of JSON on, the native reader goes first
      return [`data nested 100,000 deep with a string among the numbers (${reader})`, () => post('/v2/models/linear/infer', `{${pad}"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": ${deep('1, "a", 3')}}]}`), 400, /^input 'x' \(FP32\): data\[1\] is "a", not a number$/];
    }),
    ['a shape nested 100,000 deep', () => post('/v2/models/linear/infer', `{"inputs": [{"name": "x", "datatype": "FP32", "shape": ${'['.repeat(100_000) + ']'.repeat(100_000)}, "data": [1, 2, 3]}]}`), 400, /^input 'x': shape\[0\] must be a non-negative integer, got \[\[\[\[\.\.\.\]\]\]\]$/],
    ['an input name of 1 MB', () => post('/v2/models/linear/infer', { inputs: [{ name: 'n'.repeat(2 ** 20), datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }), 400, /^model 'linear' has no input "n{39}\.\.\. \(its inputs: x\)$/],
  ];

  it.each(cases)('%s', async (_name, send, status, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = await res.json();
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(message);
    await expectHealthy();
  });

  it.skipIf(curlMissing)('curl: malformed JSON and a truncated binary body', async () => {
    const bad = await curl(`${base}/v2/models/linear/infer`, ['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', '{"inputs":[{"name":"x",']);
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/malformed/);
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }] }, [new Uint8Array(8)]);
    const file = join(mkdtempSync(join(tmpdir(), 'ort-napi-bin-')), 'short.bin');
    writeFileSync(file, body);
    const truncated = await curl(`${base}/v2/models/linear/infer`, ['-X', 'POST', '-H', `Inference-Header-Content-Length: ${headerLength}`, '--data-binary', `@${file}`]);
    expect(truncated.status).toBe(400);
    expect(truncated.json().error).toMatch(/only 8 bytes of binary data remain/);
    await expectHealthy();
  });

  it('a body cut off mid-transfer (the client lies about Content-Length and leaves) harms nothing', async () => {
    const { connect } = await import('node:net');
    const url = new URL(base);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /v2/models/linear/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs": [`);
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
    });
    await expectHealthy();
    expect((await post('/v2/models/linear/infer', linearInfer([1, 2, 3]))).status).toBe(200);
  });
});

describe('serving behaviour', () => {
  it('dynamic batching: concurrent requests share runs, each gets its own rows', async () => {
    const before = await metric(/^ort_napi_inference_batch_size_sum\{model="batched",version="1"\} (\S+)$/);
    const beforeCount = await metric(/^ort_napi_inference_batch_size_count\{model="batched",version="1"\} (\S+)$/);
    const xs = Array.from({ length: 8 }, (_, i) => randomRows(1, i + 1));
    const results = await Promise.all(xs.map((x) => post('/v2/models/batched/infer', linearInfer(x)).then((r) => r.json())));
    results.forEach((body, i) => expect(body.outputs[0].data).toEqual(expectedLinear(xs[i])));
    const sum = (await metric(/^ort_napi_inference_batch_size_sum\{model="batched",version="1"\} (\S+)$/)) - before;
    const count = (await metric(/^ort_napi_inference_batch_size_count\{model="batched",version="1"\} (\S+)$/)) - beforeCount;
    expect(count).toBe(8);
    expect(sum / count).toBeGreaterThan(1); // some requests ran in a batch of several
  });

  it('a full queue answers 429, and the requests accepted finish', async () => {
    const slow = (v: number) => post('/v2/models/slow/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [v] }] });
    const first = slow(1);
    await new Promise((r) => setTimeout(r, 50)); // running
    const second = slow(2); // queued (maxQueue 1)
    await new Promise((r) => setTimeout(r, 50));
    const third = await slow(3);
    expect(third.status).toBe(429);
    expect((await third.json()).error).toMatch(/the pool's queue is full \(maxQueue 1\)/);
    const [a, b] = await Promise.all([first, second]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect((await b.json()).outputs[0].data).toEqual([2]);
    await expectHealthy();
  });

  it('a deadline (inference-timeout-ms header, or Triton\'s timeout parameter in µs) answers 504', async () => {
    const res = await post('/v2/models/slow/infer', slowInfer(1), { 'inference-timeout-ms': '40' });
    expect(res.status).toBe(504);
    expect((await res.json()).error).toMatch(/timed out after 40 ms/);
    // The expired run was terminated: the next request does not queue behind it.
    const waits = await queueWaits(base, 'slow');
    expect((await post('/v2/models/slow/infer', slowInfer(2))).status).toBe(200);
    expect(await queueWaits(base, 'slow')).toEqual({ count: waits.count + 1, under100ms: waits.under100ms + 1 });
    const triton = await post('/v2/models/slow/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] }], parameters: { timeout: 40_000 } });
    expect(triton.status).toBe(504);
    await expectHealthy();
  });

  it.skipIf(curlMissing)('a client that goes away cancels its request (queued or running)', async () => {
    const before = await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="http",reason="cancelled"\} (\S+)$/);
    // curl gives up after 100 ms, closing the connection while the run goes on.
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] }] });
    const gone = await new Promise<number | null>((resolve) => {
      const child = spawn('curl', ['-sS', '-m', '0.1', '-X', 'POST', '-H', 'content-type: application/json', '--data-binary', body, `${base}/v2/models/slow/infer`], { stdio: 'ignore', env: curlEnv });
      child.on('exit', (code) => resolve(code));
    });
    expect(gone).toBe(28); // curl: operation timed out
    for (let i = 0; i < 50; i++) {
      if ((await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="http",reason="cancelled"\} (\S+)$/)) > before) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await metric(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="http",reason="cancelled"\} (\S+)$/)).toBe(before + 1);
    // The run was terminated: the next request does not queue behind the abandoned one.
    const waits = await queueWaits(base, 'slow');
    expect((await post('/v2/models/slow/infer', slowInfer(5))).status).toBe(200);
    expect(await queueWaits(base, 'slow')).toEqual({ count: waits.count + 1, under100ms: waits.under100ms + 1 });
    await expectHealthy();
  });
});

describe('repository extension', () => {
  it('index, unload (503 after, ready false) and load again', async () => {
    const index = await (await post('/v2/repository/index', {})).json();
    expect(index).toEqual(expect.arrayContaining([{ name: 'linear', version: '1', state: 'READY', reason: '' }, { name: 'versioned', version: '2', state: 'READY', reason: '' }]));
    expect((await post('/v2/repository/models/versioned/unload', '')).status).toBe(200);
    const after = await post('/v2/models/versioned/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] });
    expect(after.status).toBe(503);
    expect((await after.json()).error).toMatch(/model 'versioned' is not loaded \(unavailable: unloaded\)/);
    expect((await fetch(`${base}/v2/models/versioned/ready`)).status).toBe(503);
    const listed = await (await post('/v2/repository/index', {})).json();
    expect(listed).toContainEqual({ name: 'versioned', state: 'UNAVAILABLE', reason: 'unloaded' });
    expect(await (await post('/v2/repository/index', { ready: true })).json()).not.toContainEqual(expect.objectContaining({ name: 'versioned' }));
    expect((await post('/v2/repository/models/versioned/load', '')).status).toBe(200);
    const back = await post('/v2/models/versioned/versions/1/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [2] }] });
    expect((await back.json()).outputs[0].data).toEqual([-2]);
    const unknown = await post('/v2/repository/models/nope/load', '');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toMatch(/unknown model 'nope'/);
    // Triton's parameters: a config or files sent with a load would be ignored, so they are refused;
    // unload_dependents is accepted (there are no ensembles).
    const config = await post('/v2/repository/models/versioned/load', { parameters: { config: '{"max_batch_size": 8}' } });
    expect([config.status, (await config.json()).error]).toEqual([400, "the load parameter 'config' is not supported: a model loads from its folder in the repository, with that folder's config.json (Triton's 'config' and 'file:' parameters are not taken)"]);
    expect((await post('/v2/repository/models/versioned/load', { parameters: { 'file:1/model.onnx': 'AAAA' } })).status).toBe(400);
    expect((await post('/v2/repository/models/versioned/load', 'not json')).status).toBe(400);
    expect((await post('/v2/repository/models/versioned/unload', { parameters: { unload_dependents: true } })).status).toBe(200);
    expect((await post('/v2/repository/models/versioned/load', { parameters: {} })).status).toBe(200);
    await expectHealthy();
  });
});

describe("statistics extension (Triton's, which perf_analyzer reads)", () => {
  type Duration = { count: number; ns: number };
  type Stat = { name: string; version: string; last_inference: number; inference_count: number; execution_count: number; inference_stats: Record<string, Duration>; batch_stats: { batch_size: number; compute_input: Duration; compute_infer: Duration; compute_output: Duration }[] };
  const statsOf = async (path: string): Promise<Stat[]> => {
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(200);
    return (await res.json()).model_stats;
  };
  const one = async (model: string) => (await statsOf(`/v2/models/${model}/versions/1/stats`))[0];
  const runsOfSize = (stat: Stat) => Object.fromEntries(stat.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]));

  it('counts requests, inferences, runs and their time per model version', async () => {
    const before = await one('linear');
    const startedAt = Date.now();
    for (const rows of [[1, 2, 3], randomRows(2, 7), [4, 5, 6]]) expect((await post('/v2/models/linear/infer', linearInfer(rows))).status).toBe(200);
    expect((await post('/v2/models/linear/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] })).status).toBe(400);
    const after = await one('linear');
    expect([after.name, after.version]).toEqual(['linear', '1']);
    const delta = (key: string) => ({ count: after.inference_stats[key].count - before.inference_stats[key].count, ns: after.inference_stats[key].ns - before.inference_stats[key].ns });
    expect(delta('success').count).toBe(3);
    expect(delta('fail').count).toBe(1);
    for (const key of ['queue', 'compute_input', 'compute_infer', 'compute_output']) expect(delta(key).count).toBe(3);
    expect(after.inference_stats.cache_hit).toEqual({ count: 0, ns: 0 });
    expect(after.inference_stats.cache_miss).toEqual({ count: 0, ns: 0 });
    // Without batching a request is one inference (whatever its rows) and one run of batch size 1.
    expect(after.inference_count - before.inference_count).toBe(3);
    expect(after.execution_count - before.execution_count).toBe(3);
    expect((runsOfSize(after)[1] ?? 0) - (runsOfSize(before)[1] ?? 0)).toBe(3);
    // The parts are within the whole: a request's time in the server covers its decoding, queueing, run and outputs.
    const parts = ['queue', 'compute_input', 'compute_infer', 'compute_output'].reduce((sum, key) => sum + delta(key).ns, 0);
    expect(delta('compute_infer').ns).toBeGreaterThan(0);
    expect(delta('compute_input').ns).toBeGreaterThan(0);
    expect(delta('success').ns).toBeGreaterThanOrEqual(parts);
    expect(delta('fail').ns).toBeGreaterThan(0);
    expect(after.last_inference).toBeGreaterThanOrEqual(startedAt - 1);
    expect(after.last_inference).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('with dynamic batching: each row is an inference, a batch one run of its rows', async () => {
    const before = await one('batched');
    const xs = [randomRows(1, 11), randomRows(2, 12), randomRows(1, 13), randomRows(3, 14)];
    const results = await Promise.all(xs.map((x) => post('/v2/models/batched/infer', linearInfer(x)).then((r) => r.json())));
    results.forEach((body, i) => expect(body.outputs[0].data).toEqual(expectedLinear(xs[i])));
    const after = await one('batched');
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(4);
    expect(after.inference_stats.compute_infer.count - before.inference_stats.compute_infer.count).toBe(4);
    expect(after.inference_count - before.inference_count).toBe(7);
    // The runs by batch size (rows): they hold the 7 rows, and there is one per execution counted.
    const sizes = runsOfSize(after);
    const earlier = runsOfSize(before);
    const runs = Object.entries(sizes).map(([size, count]) => [Number(size), count - (earlier[Number(size)] ?? 0)]);
    expect(runs.reduce((sum, [size, count]) => sum + size * count, 0)).toBe(7);
    const executions = after.execution_count - before.execution_count;
    expect(runs.reduce((sum, [, count]) => sum + count, 0)).toBe(executions);
    expect(executions).toBeLessThan(4); // some requests shared a run (maxDelayMs 50)
    for (const b of after.batch_stats) expect([b.compute_input.count, b.compute_output.count]).toEqual([0, 0]); // not measured per run
  });

  it.skipIf(curlMissing)('every loaded version, one model, one version; an unknown model or version is 404; a version loaded again starts from zero', async () => {
    const all = await curl(`${base}/v2/models/stats`);
    expect(all.status).toBe(200);
    const listed = (all.json() as { model_stats: Stat[] }).model_stats.map((s) => `${s.name}/${s.version}`);
    expect(listed).toEqual(expect.arrayContaining(['batched/1', 'linear/1', 'slow/1', 'types/1', 'versioned/1', 'versioned/2']));
    expect(listed).toEqual([...listed].sort((a, b) => (a.split('/')[0] === b.split('/')[0] ? Number(a.split('/')[1]) - Number(b.split('/')[1]) : a < b ? -1 : 1)));
    expect((await statsOf('/v2/models/versioned/stats')).map((s) => s.version)).toEqual(['1', '2']);
    expect((await statsOf('/v2/models/versioned/versions/2/stats')).map((s) => s.version)).toEqual(['2']);
    const unknown = await fetch(`${base}/v2/models/nope/stats`);
    expect([unknown.status, (await unknown.json()).error]).toEqual([404, "unknown model 'nope'"]);
    const version = await fetch(`${base}/v2/models/linear/versions/9/stats`);
    expect([version.status, (await version.json()).error]).toEqual([404, "model 'linear' has no version '9' (loaded: 1)"]);

    expect((await post('/v2/models/versioned/versions/1/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [2] }] })).status).toBe(200);
    expect((await one('versioned')).inference_stats.success.count).toBeGreaterThan(0);
    expect((await post('/v2/repository/models/versioned/unload', '')).status).toBe(200);
    const unloaded = await fetch(`${base}/v2/models/versioned/stats`);
    expect(unloaded.status).toBe(503);
    expect((await post('/v2/repository/models/versioned/load', '')).status).toBe(200);
    const fresh = await one('versioned');
    expect([fresh.inference_stats.success.count, fresh.execution_count, fresh.last_inference, fresh.batch_stats]).toEqual([0, 0, 0, []]);
    await expectHealthy();
  });
});

describe('metrics', () => {
  it('GET /metrics: Prometheus text with request counts, queue and compute time, per model and version', async () => {
    await post('/v2/models/linear/infer', linearInfer([1, 2, 3]));
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^ort_napi_inference_request_success_total\{model="linear",version="1",protocol="http"\} [1-9][0-9]*$/m);
    expect(text).toMatch(/^ort_napi_inference_request_failure_total\{model="linear",version="1",protocol="http",reason="invalid_argument"\} [1-9]/m);
    expect(text).toMatch(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="http",reason="resource_exhausted"\} [1-9]/m);
    expect(text).toMatch(/^ort_napi_inference_request_failure_total\{model="slow",version="1",protocol="http",reason="deadline_exceeded"\} [1-9]/m);
    expect(text).toMatch(/^ort_napi_inference_queue_duration_seconds_count\{model="linear",version="1"\} [1-9]/m);
    expect(text).toMatch(/^ort_napi_inference_compute_duration_seconds_count\{model="linear",version="1"\} [1-9]/m);
    expect(text).toMatch(/^ort_napi_inference_pending_requests\{model="linear",version="1",state="queued"\} 0$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });
});
