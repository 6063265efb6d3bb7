// 97.server.ops: operating the server: the CLI (one model file, a repository, usage errors,
// structured logs), SIGTERM draining with requests in flight over HTTP and gRPC (none lost),
// readiness while draining, embedding next to an application's routes, per-server metrics, spans.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { calibratedSlowModel, server as api, startCli as startServe } from './97.server.support.js';
import { linear } from './support/models.js';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
const otel = require('@opentelemetry/api') as typeof import('@opentelemetry/api');

const root = resolve(__dirname, '..');
const cli = join(root, 'dist', 'cli.js');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

const startCli = (args: string[]) => startServe(args, children);

function grpcClient(address: string) {
  const definition = protoLoader.loadSync(join(root, 'lib', 'server', 'grpc_predict_v2.proto'), { keepCase: true, longs: String, defaults: true });
  const Service = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService; // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Service(address, grpc.credentials.createInsecure());
}

const slowBody = (v: number) => JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [v] }] });

describe('ort-napi serve (the CLI)', () => {
  it('SIGTERM drains: readiness false, new work refused, every accepted request (HTTP and gRPC) answered, exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-napi-drain-'));
    // Runs of 400 ms: all six requests must be in before the first run ends, and on a loaded
    // machine (the sanitizer job's parallel files) their HTTP and gRPC connections took longer than
    // 150 ms to be accepted once the runner's hand-back had lost its system calls.
    const { model, runMs } = await calibratedSlowModel(400);
    mkdirSync(join(dir, 'slow', '1'), { recursive: true });
    writeFileSync(join(dir, 'slow', '1', 'model.onnx'), model);
    writeFileSync(join(dir, 'slow', 'config.json'), JSON.stringify({ maxQueue: 32, sessionOptions: { maxConcurrentRuns: 1 } }));
    const server = await startCli(['--model-repository', dir, '--http-port', '0', '--grpc-port', '0', '--host', '127.0.0.1', '--drain-delay-ms', '400']);

    // Six requests accepted: one running, five queued (runs take turns).
    const http = Array.from({ length: 4 }, (_, i) =>
      fetch(`${server.http}/v2/models/slow/infer`, { method: 'POST', body: slowBody(i + 1), headers: { 'content-type': 'application/json' } }).then(async (r) => ({ status: r.status, body: await r.json() })),
    );
    const client = grpcClient(server.grpc!);
    const grpcCalls = [5, 6].map(
      (v) =>
        new Promise<{ code: number; value?: number }>((done) =>
          client.ModelInfer({ model_name: 'slow', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1] }], raw_input_contents: [Buffer.from(Float32Array.from([v]).buffer)] }, (error: { code: number } | null, res: { raw_output_contents: Buffer[] }) =>
            done(error ? { code: error.code } : { code: 0, value: new Float32Array(new Uint8Array(res.raw_output_contents[0]).buffer)[0] }),
          ),
        ),
    );
    let pending = 0;
    for (let i = 0; i < 100 && pending < 6; i++) {
      const text = await (await fetch(`${server.http}/metrics`)).text();
      pending = [...text.matchAll(/^ort_napi_inference_pending_requests\{model="slow",version="1",state="\w+"\} (\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
      if (pending < 6) await new Promise((r) => setTimeout(r, 10));
    }
    expect(pending).toBe(6);
    expect(runMs * 6).toBeGreaterThan(400); // still in flight when the drain delay ends
    server.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    // Draining: not ready on either protocol, and a new infer is refused with 503.
    const ready = await fetch(`${server.http}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false });
    const refused = await fetch(`${server.http}/v2/models/slow/infer`, { method: 'POST', body: slowBody(9), headers: { 'content-type': 'application/json' } });
    expect(refused.status).toBe(503);
    expect((await refused.json()).error).toMatch(/shutting down/);
    const grpcReady = await new Promise((done) => client.ServerReady({}, (_e: unknown, r: { ready: boolean }) => done(r?.ready)));
    expect(grpcReady).toBe(false);

    const answered = await Promise.all(http);
    answered.forEach((r, i) => expect([r.status, r.body.outputs[0].data]).toEqual([200, [i + 1]]));
    expect(await Promise.all(grpcCalls)).toEqual([{ code: 0, value: 5 }, { code: 0, value: 6 }]);
    expect(await server.exited).toBe(0);
    client.close();
    // Structured logs on stderr: JSON lines, the drain among them.
    const logs = server.stderr().trim().split('\n').map((line) => JSON.parse(line));
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['model loaded', 'serving', 'draining: readiness is false; finishing the requests accepted', 'stopped']));
  });

  it('one model file: named after the file, version 1; SIGINT stops it with exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ort-napi-one-'));
    writeFileSync(join(dir, 'my-linear.onnx'), linear());
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ batching: { maxBatchSize: 4, maxDelayMs: 1 } }));
    const server = await startCli([join(dir, 'my-linear.onnx'), '--config', join(dir, 'config.json'), '--http-port', '0', '--no-grpc', '--host', '127.0.0.1', '--log-level', 'warn']);
    const meta = await (await fetch(`${server.http}/v2/models/my-linear`)).json();
    expect(meta).toMatchObject({ name: 'my-linear', versions: ['1'] });
    const res = await fetch(`${server.http}/v2/models/my-linear/versions/1/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
    expect((await res.json()).outputs[0].data).toEqual([4.5, 4.5]);
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toBe(''); // warn level: nothing to say
  });

  it('explains wrong arguments (exit 2) and models that do not load (exit 1)', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'serve', ...args], { encoding: 'utf8', timeout: 30_000 });
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toBe('give a --model-repository or model files\nusage: ort-napi serve (--model-repository DIR | model.onnx...) [--http-port N] [--grpc-port N] [--host H] [--workers N]\n');
    const port = run('m.onnx', '--http-port', 'eighty');
    expect(port.status).toBe(2);
    expect(port.stderr).toContain("--http-port must be an integer from 0 to 65535, not 'eighty'");
    const flag = run('m.onnx', '--fast');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain("unexpected argument '--fast'");
    const missing = run('/nonexistent/model.onnx', '--http-port', '0', '--no-grpc', '--log-level', 'silent');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("model 'model' failed to load: model file '/nonexistent/model.onnx' does not exist");
    const emptyRepo = mkdtempSync(join(tmpdir(), 'ort-napi-empty-'));
    mkdirSync(join(emptyRepo, 'broken'));
    writeFileSync(join(emptyRepo, 'broken', 'config.json'), '{"pool": {"size": 1}, "batch": 4}');
    const broken = run('--model-repository', emptyRepo, '--http-port', '0', '--no-grpc', '--log-level', 'silent');
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain("config.json: unknown field 'batch'");
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: ort-napi serve /);
    // The other command still works, and its help mentions serve.
    const types = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    expect(types.stdout).toContain('usage: ort-napi serve');
  });
});

describe('createServer in an application', () => {
  it("runs beside the application's own routes (their JSON parsing untouched), and stops with readiness false first", async () => {
    const srv = api.createServer({ models: { linear: { model: linear(), config: { timeoutMs: 5000 } } }, http: { port: 0 }, drainDelayMs: 200 });
    srv.http.post('/app/echo', async (request) => ({ got: request.body }));
    const { http } = await srv.start();
    const echo = await fetch(`${http}/app/echo`, { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } });
    expect(await echo.json()).toEqual({ got: { a: 1 } });
    const res = await fetch(`${http}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
    expect((await res.json()).outputs[0].data).toEqual([4.5, 4.5]);
    expect(srv.ready).toBe(true);
    await expect(srv.loadModel('nope')).rejects.toThrow("unknown model 'nope'");
    const stopping = srv.stop();
    expect(srv.ready).toBe(false);
    const draining = await fetch(`${http}/v2/health/ready`);
    expect(draining.status).toBe(503);
    expect(draining.headers.get('connection')).toBe('close'); // a kept-alive socket would hold the close open
    await stopping;
    await expect(fetch(`${http}/v2/health/live`)).rejects.toThrow();
    await expect(srv.start()).rejects.toThrow('the server was stopped; create a new one');
  });

  it('a connection that never finishes its request does not hold stop() past drainTimeoutMs', async () => {
    const srv = api.createServer({ models: { linear: linear() }, http: { port: 0 }, drainTimeoutMs: 300 });
    const url = new URL((await srv.start()).http!);
    const { connect } = await import('node:net');
    const socket = connect(Number(url.port), url.hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /v2/models/linear/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inputs"'); // and nothing more
    const closed = new Promise((r) => socket.once('close', r));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await srv.stop();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(performance.now() - t0).toBeLessThan(5000);
    await closed; // the server cut it
  });

  it('two servers in one process keep their metrics apart', async () => {
    const a = api.createServer({ models: { linear: linear() }, http: { port: 0 } });
    const b = api.createServer({ models: { linear: linear() }, http: { port: 0 } });
    const [at, bt] = [(await a.start()).http!, (await b.start()).http!];
    const infer = (base: string) => fetch(`${base}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
    await infer(at);
    await infer(at);
    await infer(bt);
    const count = async (base: string) => Number(/^ort_napi_inference_request_success_total\{model="linear",version="1",protocol="http"\} (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    const compute = async (base: string) => Number(/^ort_napi_inference_compute_duration_seconds_count\{model="linear",version="1"\} (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    expect([await count(at), await count(bt)]).toEqual([2, 1]);
    expect([await compute(at), await compute(bt)]).toEqual([2, 1]);
    expect(a.metrics).not.toBe(b.metrics);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("the README's config.json example is one the server takes", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### The model repository'));
    const config = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]);
    expect(Object.keys(config)).toEqual(['versions', 'pool', 'maxQueue', 'timeoutMs', 'batching', 'providers', 'sessionOptions']);
    const srv = api.createServer({ models: { linear: { model: linear(), config } }, http: { port: 0 } });
    const { http } = await srv.start();
    const res = await fetch(`${http}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
    expect((await res.json()).outputs[0].data).toEqual([4.5, 4.5]);
    await srv.stop();
  });

  it('the package ships the server: its build, its proto, and the ./server export', () => {
    const npmCli = [process.env.npm_execpath ?? '', join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find((p) => p.endsWith('npm-cli.js') && existsSync(p))!;
    const packed = spawnSync(process.execPath, [npmCli, 'pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: root, encoding: 'utf8' });
    const files = (JSON.parse(packed.stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/server/index.js', 'dist/server/index.d.ts', 'lib/server/grpc_predict_v2.proto']));
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(manifest.exports['./server']).toEqual({ types: './dist/server/index.d.ts', default: './dist/server/index.js' });
    // dist/server finds the proto where the package puts it.
    expect(api.PROTO_PATH).toBe(join(root, 'lib', 'server', 'grpc_predict_v2.proto'));
  });

  it("importing 'ort-napi' loads no server dependency; 'ort-napi/server' does", () => {
    const probe = String.raw`console.log(Object.keys(require.cache).filter((p) => /node_modules\/(fastify|@grpc|prom-client)\//.test(p)).length)`;
    const loaded = (entry: string) => {
      const child = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(entry)}); ${probe}`], { cwd: root, encoding: 'utf8' });
      expect(child.stderr).toBe('');
      return child.stdout.trim();
    };
    expect(loaded('ort-napi')).toBe('0');
    expect(Number(loaded('ort-napi/server'))).toBeGreaterThan(0);
  });

  it('metrics: false serves no /metrics and records nothing', async () => {
    const srv = api.createServer({ models: { linear: linear() }, http: { port: 0 }, metrics: false });
    const { http } = await srv.start();
    await fetch(`${http}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
    expect((await fetch(`${http}/metrics`)).status).toBe(404);
    expect(await srv.metrics.getMetricsAsJSON()).toEqual([]);
    await srv.stop();
  });

  it('bad options are refused with what was wrong', () => {
    expect(() => api.createServer({} as never)).toThrow('createServer needs a model repository (`repository`) or `models`');
    expect(() => api.createServer({ models: { m: linear() }, http: { port: 70000 } })).toThrow('http.port must be an integer from 0 to 65535');
    expect(() => api.createServer({ repository: '/nonexistent/repo' })).toThrow('the model repository /nonexistent/repo is not a directory');
    expect(() => api.createServer({ models: { m: { model: linear(), config: { batching: 4 } as never } } })).toThrow("models['m'].config: batching must be an object");
  });

  it('one OpenTelemetry span per infer request, with the model, version, queue and compute time, and error status', async () => {
    const spans: { name: string; attributes: Record<string, unknown>; status?: { code: number; message?: string }; ended: boolean; parent?: string }[] = [];
    const tracer = {
      startSpan(name: string, options: { attributes?: Record<string, unknown> } = {}, parentContext?: unknown) {
        const parent = parentContext ? otel.trace.getSpanContext(parentContext as never)?.traceId : undefined;
        const span = { name, attributes: { ...options.attributes }, status: undefined as { code: number; message?: string } | undefined, ended: false, ...(parent ? { parent } : {}) };
        spans.push(span);
        const api = {
          setAttribute: (k: string, v: unknown) => ((span.attributes[k] = v), api),
          setAttributes: (a: Record<string, unknown>) => (Object.assign(span.attributes, a), api),
          setStatus: (s: { code: number; message?: string }) => ((span.status = s), api),
          end: () => void (span.ended = true),
          isRecording: () => true,
          spanContext: () => ({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }),
          addEvent: () => api,
          addLink: () => api,
          addLinks: () => api,
          recordException: () => undefined,
          updateName: () => api,
        };
        return api;
      },
      startActiveSpan() {
        throw new Error('not used');
      },
    };
    otel.trace.setGlobalTracerProvider({ getTracer: () => tracer as never });
    // A propagator reading W3C traceparent: the request's span joins the caller's trace.
    otel.propagation.setGlobalPropagator({
      fields: () => ['traceparent'],
      inject: () => undefined,
      extract: (ctx, carrier: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(carrier.traceparent ?? '');
        return m ? otel.trace.setSpanContext(ctx, { traceId: m[1], spanId: m[2], traceFlags: 1, isRemote: true }) : ctx;
      },
    });
    const srv = api.createServer({ models: { linear: linear() }, http: { port: 0 } });
    const { http } = await srv.start();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await fetch(`${http}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }), headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    await fetch(`${http}/v2/models/linear/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'INT8', shape: [1, 3], data: [1, 2, 3] }] }) });
    await srv.stop();
    otel.trace.disable();
    otel.propagation.disable();
    expect(spans).toEqual([
      {
        name: 'infer linear',
        attributes: {
          'inference.protocol': 'http',
          'inference.model.name': 'linear',
          'inference.model.version': '1',
          // Where its time went: the pool's figures for this one request.
          'inference.queue.duration_ms': expect.any(Number),
          'inference.compute.duration_ms': expect.any(Number),
          'inference.batch.size': 1,
          'inference.batch.rows': 1,
        },
        status: undefined,
        ended: true,
        parent: traceId,
      },
      {
        name: 'infer linear',
        attributes: { 'inference.protocol': 'http', 'inference.model.name': 'linear', 'inference.model.version': '1', 'inference.error.kind': 'INVALID_ARGUMENT' },
        status: { code: otel.SpanStatusCode.ERROR, message: `input 'x' has datatype "INT8", but model 'linear' expects FP32` },
        ended: true,
      },
    ]);
    expect(spans[0].attributes['inference.compute.duration_ms']).toBeGreaterThan(0);
    expect(spans[0].attributes['inference.queue.duration_ms']).toBeGreaterThanOrEqual(0);
  });
});
