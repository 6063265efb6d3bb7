// bench/server/run.ts: `ort-napi serve` against what a user would write today (a plain fastify
// handler calling onnxruntime-node), on loopback: requests/s and p50/p99 at 1, 16 and 64 clients for
// a small and a mid-size model; ort-napi over v2 JSON, v2 binary (wrk) and gRPC (h2load), in one
// process and with --workers (one per CPU); plus the server's own cost per request over an
// in-process pool.run, and the ceilings of the two protocol stacks: the same fastify route, and
// grpc-js with the same proto, answering without running the model. Every side uses the same ONNX
// Runtime core (onnxruntime-node's). Each (model, side, round) is a fresh server process; rounds
// interleave the sides and alternate their order.
//   npm run bench:server [-- --quick] [--rounds N] [--seconds S] [--clients 1,16,64] [--models small,mid]
//   BENCH_SERVE_CONFIG='{...}' replaces ort-napi's model config (config.json) for a run.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildModel } from '../../test/support/onnx.js';
import { weights } from '../models.js';

const root = (() => {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'ort-napi') return dir;
  }
  throw new Error('run from inside the ort-napi repository');
})();
const ORT_CORE = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');

// ---- models

interface Model {
  about: string;
  bytes(): Uint8Array;
  width: number; // x: [1, width] float32
}

const MODELS: Record<string, Model> = {
  small: {
    about: 'y = x W + b, x [1, 3] (the README model)',
    width: 3,
    bytes: () =>
      buildModel({
        inputs: [{ name: 'x', type: 'float32', dims: ['batch', 3] }],
        outputs: [{ name: 'y', type: 'float32', dims: ['batch', 2] }],
        initializers: [
          { name: 'W', type: 'float32', dims: [3, 2], data: new Float32Array([1, 0, 0, 1, 1, 1]) },
          { name: 'b', type: 'float32', dims: [2], data: new Float32Array([0.5, -0.5]) },
        ],
        nodes: [
          { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
          { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'] },
        ],
      }),
  },
  mid: {
    about: 'MLP 512-1024-1024-16 (ReLU), x [1, 512], 6.4 MB of weights, 3.2 MFLOP a row',
    width: 512,
    bytes: () =>
      buildModel({
        inputs: [{ name: 'x', type: 'float32', dims: ['batch', 512] }],
        outputs: [{ name: 'y', type: 'float32', dims: ['batch', 16] }],
        initializers: [
          { name: 'w1', type: 'float32', dims: [512, 1024], data: weights(512 * 1024, 1, 1 / Math.sqrt(512)) },
          { name: 'w2', type: 'float32', dims: [1024, 1024], data: weights(1024 * 1024, 2, 1 / 32) },
          { name: 'w3', type: 'float32', dims: [1024, 16], data: weights(1024 * 16, 3, 1 / 32) },
        ],
        nodes: [
          { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h1'] },
          { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
          { op: 'MatMul', inputs: ['r1', 'w2'], outputs: ['h2'] },
          { op: 'Relu', inputs: ['h2'], outputs: ['r2'] },
          { op: 'MatMul', inputs: ['r2', 'w3'], outputs: ['y'] },
        ],
      }),
  },
};

/** ort-napi's config for the benchmark: batching that never waits (batches form only while runs are busy). */
const SERVE_CONFIG = process.env.BENCH_SERVE_CONFIG ? JSON.parse(process.env.BENCH_SERVE_CONFIG) : { batching: { maxBatchSize: 64, maxDelayMs: 0 } };

const input = (width: number) => Array.from(weights(width, 7, 1), (v) => Math.fround(v));

// ---- roles run in their own processes

/**
 * What a user writes today: fastify, a JSON handler, onnxruntime-node's InferenceSession.run. The
 * same handler on ort-napi's own run() (`package` 'ort-napi') is the yardstick of the v2 server's
 * overhead: the HTTP stack and the run are the same, the difference is the v2 protocol, the pool,
 * metrics and spans.
 */
async function baseline(modelPath: string, packageName = 'onnxruntime-node'): Promise<void> {
  const ort = (packageName === 'onnxruntime-node' ? require('onnxruntime-node') : require(join(root, 'dist', 'index.js'))) as typeof import('onnxruntime-node');
  const Fastify = require('fastify') as typeof import('fastify').default;
  const session = await ort.InferenceSession.create(modelPath);
  const app = Fastify({ bodyLimit: 64 * 2 ** 20 });
  type Body = { inputs: { name: string; shape: number[]; data: number[] }[] };
  const infer = async (body: Body, name: string) => {
    const x = body.inputs[0];
    const out = await session.run({ [x.name]: new ort.Tensor('float32', Float32Array.from(x.data), x.shape) });
    const y = out[session.outputNames[0]];
    return { model_name: name, outputs: [{ name: session.outputNames[0], datatype: 'FP32', shape: y.dims, data: Array.from(y.data as Float32Array) }] };
  };
  if (packageName === 'none') {
    // The HTTP ceiling: the same fastify route parsing the same JSON, answering every request with
    // the reply to the first one (the bench sends one input over and over), without running the
    // model. Its replies wait for the loop's turn (one setImmediate for all of a turn's requests):
    // answered at once, from the turn that read them, the same route served 9.6-10.4k req/s at 64
    // clients here, and 15.7-17.9k after the turn (5 alternating rounds). A handler whose run
    // resolves in a later turn (onnxruntime-node's, a pool's) answers that way too; one on
    // ort-napi's run() of a tiny model does once a turn's inline budget is spent (lib/inline.ts).
    let reply: Awaited<ReturnType<typeof infer>> | undefined;
    let turn: Promise<void> | undefined;
    const nextTurn = () => (turn ??= new Promise<void>((resolve) => setImmediate(() => ((turn = undefined), resolve()))));
    app.post('/v2/models/:name/infer', async (request) => {
      const body = request.body as Body;
      if (!Array.isArray(body.inputs?.[0]?.data)) throw new Error('no inputs[0].data');
      reply ??= await infer(body, (request.params as { name: string }).name);
      await nextTurn();
      return reply;
    });
    await grpcCeiling(app, async (name, x, dims) => {
      const y = (await session.run({ [name]: new ort.Tensor('float32', x, dims) }))[session.outputNames[0]];
      return { name: session.outputNames[0], data: y.data as Float32Array, dims: y.dims };
    });
  } else {
    app.post('/v2/models/:name/infer', async (request) => infer(request.body as Body, (request.params as { name: string }).name));
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  process.stdout.write(`HTTP http://127.0.0.1:${address.port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

/**
 * The gRPC ceiling, beside the HTTP one: @grpc/grpc-js with the shipped proto, loaded as the server
 * loads it, and the server's channel options, decoding every ModelInfer request and answering it
 * with the reply to the first one (run once, on raw contents), without running the model: what the
 * protocol library itself allows on this machine. GET /metrics gives its count of answers in the v2
 * server's format, so that the bench checks h2load's count against it as it does for the server.
 */
async function grpcCeiling(app: import('fastify').FastifyInstance, runOnce: (input: string, x: Float32Array, dims: number[]) => Promise<{ name: string; data: Float32Array; dims: readonly number[] }>): Promise<void> {
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  const { PROTO_PATH, PROTO_OPTIONS } = require(join(root, 'dist', 'server', 'grpc.js')) as typeof import('../../lib/server/grpc.js');
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_PATH, PROTO_OPTIONS)) as unknown as { inference: { GRPCInferenceService: { service: import('@grpc/grpc-js').ServiceDefinition } } };
  type Request = { model_name: string; id: string; inputs: { name: string; shape: string[] }[]; raw_input_contents: Buffer[] };
  let reply: Record<string, unknown> | undefined;
  const answered = new Map<string, number>();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 2 ** 20, 'grpc.max_send_message_length': -1, 'grpc.enable_channelz': 0 });
  server.addService(loaded.inference.GRPCInferenceService.service, {
    ModelInfer: (call: import('@grpc/grpc-js').ServerUnaryCall<Request, unknown>, callback: import('@grpc/grpc-js').sendUnaryData<unknown>) => {
      const request = call.request;
      const raw = request.raw_input_contents[0];
      if (raw === undefined || request.inputs.length !== 1) return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'one input, in raw_input_contents' }, null);
      const answer = (): void => {
        answered.set(request.model_name, (answered.get(request.model_name) ?? 0) + 1);
        callback(null, { ...reply, id: request.id });
      };
      // Answered on the loop's next turn: grpc-js answers a call about 30% more calls a second that
      // way than from within the turn that brought it (measured: 64 clients, 5.4-6.2k against
      // 4.0-4.3k req/s, a microtask the same as at once). A ceiling takes the faster.
      if (reply) return void setImmediate(answer);
      const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
      runOnce(request.inputs[0].name, x, request.inputs[0].shape.map(Number)).then(
        (y) => {
          reply ??= { model_name: request.model_name, model_version: '1', outputs: [{ name: y.name, datatype: 'FP32', shape: y.dims }], raw_output_contents: [Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength)] };
          answer();
        },
        (error: Error) => callback({ code: grpc.status.INTERNAL, details: error.message }, null),
      );
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  app.get('/metrics', async () =>
    [...answered].map(([model, n]) => `ort_napi_inference_request_success_total{model="${model}",version="1",protocol="grpc"} ${n}`).join('\n') + '\n',
  );
  process.stdout.write(`gRPC 127.0.0.1:${port}\n`);
}

/** The same model through SessionPool.run in-process: latency and CPU per request, no server. */
async function inProcess(modelPath: string, width: number, count: number): Promise<void> {
  const { SessionPool, Tensor } = require(join(root, 'dist', 'index.js')) as typeof import('../../lib/index.js');
  const pool = await SessionPool.create(modelPath, SERVE_CONFIG);
  const x = new Tensor('float32', Float32Array.from(input(width)), [1, width]);
  for (let i = 0; i < 500; i++) await pool.run({ x });
  const times = new Float64Array(count);
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await pool.run({ x });
    times[i] = performance.now() - t;
  }
  const used = process.cpuUsage(cpu);
  times.sort();
  process.stdout.write(JSON.stringify({ p50Us: times[count >> 1] * 1000, meanUs: (times.reduce((a, b) => a + b, 0) / count) * 1000, cpuUsPerRequest: (used.user + used.system) / count }) + '\n');
  await pool.close();
}

/** A gRPC request body: the length-prefixed ModelInferRequest (protobufjs encodes it from the proto). */
function grpcMessage(model: string, x: Float32Array): Buffer {
  const protobuf = require('protobufjs') as typeof import('protobufjs');
  // keepCase: the proto's own field names (protobufjs would otherwise expect modelName, ...).
  const type = new protobuf.Root().loadSync(join(root, 'lib', 'server', 'grpc_predict_v2.proto'), { keepCase: true }).lookupType('inference.ModelInferRequest');
  const message = type.encode(type.fromObject({ model_name: model, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, x.length] }], raw_input_contents: [Buffer.from(x.buffer)] })).finish();
  const prefix = Buffer.alloc(5); // no compression, then the length, big-endian
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

// ---- the orchestrator

interface Load {
  requests: number;
  durationUs: number;
  socketErrors: number;
  non2xx: number;
  p50Us: number;
  p99Us: number;
}

interface Server {
  child: ChildProcess;
  http: string;
  grpc?: string;
}

/** Servers started and not yet stopped: stopped on the way out if the run fails. */
const running = new Set<ChildProcess>();

function startServer(args: string[], env: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  running.add(child);
  child.on('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const http = /HTTP (\S+)/.exec(out)?.[1];
      const grpc = /gRPC (\S+)/.exec(out)?.[1];
      // ort-napi serve and the ceilings listen on both; the fastify handlers on HTTP alone.
      if (http && (grpc || !(args.includes('serve') || args.includes('none')))) resolve({ child, http, grpc });
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before listening`)));
  });
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((r) => server.child.on('exit', r));
  server.child.kill('SIGTERM');
  await exited;
}

/** CPU time of `pid` and of its children (a --workers server's), in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(pid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(entry) === pid || Number(fields[1]) === pid) ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
  }
  return ticks;
}

/**
 * CPU time of this process's children that have exited, in clock ticks: across a load, the load
 * generator's (wrk, h2load), the only child that exits while it runs.
 */
function exitedChildrenTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]); // cutime + cstime
}

/** The machine's CPU time, all CPUs: busy and in all, in clock ticks (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, { env: { ...process.env, ...env }, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')}: ${error.message} ${stderr}`)) : resolve(stdout))),
  );
}

async function wrk(url: string, clients: number, seconds: number, bodyFile: string, headerLength?: number): Promise<Load> {
  const out = await run('wrk', ['-t1', `-c${clients}`, `-d${seconds}s`, '--timeout', '10s', '-s', join(root, 'bench', 'server', 'wrk.lua'), url], { BODY_FILE: bodyFile, HEADER_LENGTH: headerLength === undefined ? '' : String(headerLength) });
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`wrk printed no summary: ${out}`);
  return JSON.parse(line);
}

/**
 * gRPC load from h2load: ModelInfer as raw HTTP/2 POSTs of one length-prefixed message (encoded by
 * protobufjs from the shipped proto), `clients` connections of one stream each; latencies from its
 * per-request log. h2load reads no gRPC status: the server's success counter must grow by exactly
 * the requests h2load counted (checked by the caller).
 */
async function h2loadGrpc(address: string, bodyFile: string, clients: number, seconds: number, logFile: string): Promise<Load> {
  rmSync(logFile, { force: true }); // h2load appends to its log
  const out = await run('h2load', ['-D', String(seconds), '-c', String(clients), '-m', '1', '-t', '1', '-d', bodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `--log-file=${logFile}`, `http://${address}/inference.GRPCInferenceService/ModelInfer`]);
  const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (!counts) throw new Error(`h2load printed no counts: ${out}`);
  const latencies = readFileSync(logFile, 'utf8').trim().split('\n').map((line) => Number(line.split('\t')[2])).sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
  return { requests: Number(counts[4]), durationUs: seconds * 1e6, socketErrors: Number(counts[5]) + Number(counts[6]) + Number(counts[7]), non2xx: 0, p50Us: q(0.5), p99Us: q(0.99) };
}

/** A model's successful gRPC requests so far, from the server's own metrics. */
async function grpcSuccesses(http: string, model: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  return Number(new RegExp(`^ort_napi_inference_request_success_total\\{model="${model}",version="1",protocol="grpc"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

/** `ort-napi serve --workers`: one worker per CPU. */
const WORKERS = cpus().length;
const WORKERS_JSON = `ort-napi v2 JSON, --workers ${WORKERS}`;
const WORKERS_BINARY = `ort-napi v2 binary, --workers ${WORKERS}`;
const WORKERS_GRPC = `ort-napi gRPC, --workers ${WORKERS}`;
type Variant = 'ort-napi v2 JSON' | 'ort-napi v2 binary' | 'ort-napi gRPC' | typeof WORKERS_JSON | typeof WORKERS_BINARY | typeof WORKERS_GRPC | 'fastify + onnxruntime-node (JSON)' | 'fastify + ort-napi run() (JSON)' | 'fastify, no model: a fixed reply (JSON)' | 'grpc-js, no model: a fixed reply (gRPC)';
const CEILING: Variant = 'fastify, no model: a fixed reply (JSON)';
const GRPC_CEILING: Variant = 'grpc-js, no model: a fixed reply (gRPC)';
const VARIANTS: Variant[] = ['ort-napi v2 JSON', 'ort-napi v2 binary', 'ort-napi gRPC', WORKERS_JSON, WORKERS_BINARY, WORKERS_GRPC, 'fastify + onnxruntime-node (JSON)', 'fastify + ort-napi run() (JSON)', CEILING, GRPC_CEILING];

interface Result {
  model: string;
  clients: number;
  variant: Variant;
  rps: number;
  p50Us: number;
  p99Us: number;
  errors: number;
  serverCpuUsPerRequest?: number;
  /** The load generator's CPU (wrk, h2load), on the same machine. */
  clientCpuUsPerRequest?: number;
  /** The share of all the machine's CPU time that was busy during the load (0-1). */
  machineBusy?: number;
}

/** A difference with its sign: +29, -373. */
function signed(value: number): string {
  const rounded = Math.round(value);
  return rounded >= 0 ? `+${rounded}` : String(rounded);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(argv: string[]): Promise<void> {
  const option = (name: string, fallback: string) => {
    const at = argv.indexOf(name);
    return at >= 0 && argv[at + 1] ? argv[at + 1] : fallback;
  };
  const quick = argv.includes('--quick');
  const rounds = Number(option('--rounds', quick ? '1' : '3'));
  const seconds = Number(option('--seconds', quick ? '2' : '10'));
  const clientsList = option('--clients', '1,16,64').split(',').map(Number);
  const modelNames = option('--models', 'small,mid').split(',');
  if (!existsSync(ORT_CORE)) throw new Error(`onnxruntime-node's core is not at ${ORT_CORE}: npm install (it is a devDependency)`);
  const env = { ORT_DYLIB_PATH: ORT_CORE }; // the same ONNX Runtime core on both sides

  const dir = mkdtempSync(join(tmpdir(), 'ort-napi-bench-server-'));
  const results: Result[] = [];
  const inproc: Record<string, { p50Us: number; meanUs: number; cpuUsPerRequest: number }[]> = {};
  process.stderr.write(`bench:server: ${cpus().length} CPUs (${cpus()[0]?.model}), ${rounds} round(s) of ${seconds} s per load, clients ${clientsList.join('/')}\n`);

  for (const name of modelNames) {
    const model = MODELS[name];
    if (!model) throw new Error(`unknown model '${name}' (small, mid)`);
    const modelPath = join(dir, `${name}.onnx`);
    writeFileSync(modelPath, model.bytes());
    const configPath = join(dir, `${name}.config.json`);
    writeFileSync(configPath, JSON.stringify(SERVE_CONFIG));
    const x = input(model.width);
    const jsonFile = join(dir, `${name}.json`);
    writeFileSync(jsonFile, JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, model.width], data: x }] }));
    const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, model.width], parameters: { binary_data_size: model.width * 4 } }], parameters: { binary_data_output: true } }));
    const binFile = join(dir, `${name}.bin`);
    writeFileSync(binFile, Buffer.concat([head, Buffer.from(Float32Array.from(x).buffer)]));
    const grpcFile = join(dir, `${name}.grpc`);
    writeFileSync(grpcFile, grpcMessage(name, Float32Array.from(x)));

    for (let round = 0; round < rounds; round++) {
      // Each round starts with another side.
      const order = ['ort-napi', 'workers', 'baseline', 'bare', 'ceiling'] as const;
      const sides = order.map((_, i) => order[(i + round) % order.length]);
      for (const side of sides) {
        const server =
          side === 'ort-napi' || side === 'workers'
            ? await startServer([join(root, 'dist', 'cli.js'), 'serve', modelPath, '--config', configPath, '--http-port', '0', '--grpc-port', '0', '--host', '127.0.0.1', '--log-level', 'warn', ...(side === 'workers' ? ['--workers', String(WORKERS)] : [])], env)
            : await startServer([__filename, 'baseline', modelPath, side === 'bare' ? 'ort-napi' : side === 'ceiling' ? 'none' : 'onnxruntime-node'], env);
        const url = `${server.http}/v2/models/${name}/infer`;
        // Every side answers the same request with the same numbers.
        const check = await (await fetch(url, { method: 'POST', body: readFileSync(jsonFile), headers: { 'content-type': 'application/json' } })).json() as { outputs: { data: number[] }[] };
        if (!Array.isArray(check.outputs?.[0]?.data)) throw new Error(`${side} answered ${JSON.stringify(check).slice(0, 200)}`);
        checks[`${name}:${side}`] = check.outputs[0].data;
        // Warm, on each protocol the side serves: JIT compilation done, as in a server that has run a while.
        await wrk(url, 16, 3, jsonFile);
        if (server.grpc) await h2loadGrpc(server.grpc, grpcFile, 16, 3, join(dir, 'h2load.log'));
        for (const clients of clientsList) {
          // Checked against the server's own success counter (every worker's, with --workers).
          const grpcLoad = async () => {
            const before = await grpcSuccesses(server.http, name);
            const load = await h2loadGrpc(server.grpc!, grpcFile, clients, seconds, join(dir, 'h2load.log'));
            const answered = (await grpcSuccesses(server.http, name)) - before;
            // h2load may count a request cut off by its deadline that the server still answered.
            if (answered < load.requests) throw new Error(`h2load counted ${load.requests} gRPC answers but the server ${answered} successes`);
            return load;
          };
          const variants: [Variant, () => Promise<Load>][] =
            side === 'ort-napi'
              ? [
                  ['ort-napi v2 JSON', () => wrk(url, clients, seconds, jsonFile)],
                  ['ort-napi v2 binary', () => wrk(url, clients, seconds, binFile, head.length)],
                  ['ort-napi gRPC', grpcLoad],
                ]
              : side === 'workers'
                ? [
                    [WORKERS_JSON, () => wrk(url, clients, seconds, jsonFile)],
                    [WORKERS_BINARY, () => wrk(url, clients, seconds, binFile, head.length)],
                    [WORKERS_GRPC, grpcLoad],
                  ]
                : side === 'ceiling'
                  ? [
                      [CEILING, () => wrk(url, clients, seconds, jsonFile)],
                      [GRPC_CEILING, grpcLoad],
                    ]
                  : [[side === 'bare' ? 'fastify + ort-napi run() (JSON)' : 'fastify + onnxruntime-node (JSON)', () => wrk(url, clients, seconds, jsonFile)]];
          for (const [variant, load] of variants) {
            const before = cpuTicks(server.child.pid!);
            const clientBefore = exitedChildrenTicks();
            const machineBefore = machineTicks();
            const r = await load();
            const ticks = cpuTicks(server.child.pid!) - before;
            const clientTicks = exitedChildrenTicks() - clientBefore;
            const machineAfter = machineTicks();
            results.push({
              model: name,
              clients,
              variant,
              rps: r.requests / (r.durationUs / 1e6),
              p50Us: r.p50Us,
              p99Us: r.p99Us,
              errors: r.socketErrors + r.non2xx,
              serverCpuUsPerRequest: (ticks * 1e4) / Math.max(1, r.requests),
              clientCpuUsPerRequest: (clientTicks * 1e4) / Math.max(1, r.requests),
              machineBusy: (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total),
            });
            process.stderr.write(`  ${name} round ${round + 1} ${variant} x${clients}: ${Math.round(r.requests / (r.durationUs / 1e6))} req/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, p99 ${(r.p99Us / 1000).toFixed(2)} ms${r.socketErrors + r.non2xx ? `, ${r.socketErrors + r.non2xx} errors` : ''}\n`);
          }
        }
        await stopServer(server);
      }
      const out = await run(process.execPath, [__filename, 'inproc', modelPath, String(model.width), String(quick ? 3000 : 20000)], env);
      (inproc[name] ??= []).push(JSON.parse(out.trim().split('\n').pop()!));
    }
    const a = checks[`${name}:ort-napi`];
    for (const other of ['workers', 'baseline', 'bare', 'ceiling']) {
      const b = checks[`${name}:${other}`];
      if (a.length !== b.length || a.some((v, i) => Math.abs(v - b[i]) > 1e-4 * Math.max(1, Math.abs(v)))) throw new Error(`ort-napi serve and ${other} disagree on ${name}: ${a.slice(0, 4)} vs ${b.slice(0, 4)}`);
    }
  }

  // ---- the report: a table for people, JSON for scripts
  const lines = [
    `| model | clients | server | req/s (median, min–max) | p50 ms | p99 ms | server CPU µs/req | client CPU µs/req | machine busy |`,
    `| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  const summary: Record<string, unknown>[] = [];
  for (const name of modelNames) {
    for (const clients of clientsList) {
      for (const variant of VARIANTS) {
        const rs = results.filter((r) => r.model === name && r.clients === clients && r.variant === variant);
        if (rs.length === 0) continue;
        const rps = rs.map((r) => r.rps);
        const row = { model: name, clients, variant, rps: median(rps), rpsMin: Math.min(...rps), rpsMax: Math.max(...rps), p50Ms: median(rs.map((r) => r.p50Us)) / 1000, p99Ms: median(rs.map((r) => r.p99Us)) / 1000, serverCpuUsPerRequest: median(rs.map((r) => r.serverCpuUsPerRequest!)), clientCpuUsPerRequest: median(rs.map((r) => r.clientCpuUsPerRequest!)), machineBusy: median(rs.map((r) => r.machineBusy!)), errors: rs.reduce((s, r) => s + r.errors, 0) };
        summary.push(row);
        lines.push(`| ${name} | ${clients} | ${variant} | ${Math.round(row.rps).toLocaleString('en-US')} (${Math.round(row.rpsMin).toLocaleString('en-US')}–${Math.round(row.rpsMax).toLocaleString('en-US')}) | ${row.p50Ms.toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${Math.round(row.serverCpuUsPerRequest)}${row.errors ? ` (${row.errors} errors)` : ''} | ${Math.round(row.clientCpuUsPerRequest)} | ${Math.round(row.machineBusy * 100)}% |`);
      }
    }
  }
  lines.push('');
  for (const name of modelNames) {
    const ip = inproc[name];
    const inP50 = median(ip.map((r) => r.p50Us));
    const inCpu = median(ip.map((r) => r.cpuUsPerRequest));
    const http1 = summary.find((r) => r.model === name && r.clients === 1 && r.variant === 'ort-napi v2 JSON') as { p50Ms: number; serverCpuUsPerRequest: number } | undefined;
    const bare1 = summary.find((r) => r.model === name && r.clients === 1 && r.variant === 'fastify + ort-napi run() (JSON)') as { p50Ms: number; serverCpuUsPerRequest: number } | undefined;
    const grpc1 = summary.find((r) => r.model === name && r.clients === 1 && r.variant === 'ort-napi gRPC') as { p50Ms: number; serverCpuUsPerRequest: number } | undefined;
    const ours = summary.find((r) => r.model === name && r.clients === Math.max(...clientsList) && r.variant === 'ort-napi v2 JSON') as { rps: number; p99Ms: number } | undefined;
    const base = summary.find((r) => r.model === name && r.clients === Math.max(...clientsList) && r.variant === 'fastify + onnxruntime-node (JSON)') as { rps: number; p99Ms: number; machineBusy: number } | undefined;
    const ceiling = summary.find((r) => r.model === name && r.clients === Math.max(...clientsList) && r.variant === CEILING) as { rps: number; serverCpuUsPerRequest: number; clientCpuUsPerRequest: number } | undefined;
    const workers = summary.find((r) => r.model === name && r.clients === Math.max(...clientsList) && r.variant === WORKERS_JSON) as { rps: number; p99Ms: number } | undefined;
    const grpcMax = summary.find((r) => r.model === name && r.clients === Math.max(...clientsList) && r.variant === 'ort-napi gRPC') as { rps: number } | undefined;
    const grpcCeilingRow = summary.find((r) => r.model === name && r.clients === Math.max(...clientsList) && r.variant === GRPC_CEILING) as { rps: number } | undefined;
    lines.push(`- ${name} (${MODELS[name].about}): in-process pool.run p50 ${inP50.toFixed(0)} µs, ${inCpu.toFixed(0)} µs CPU a run.` +
      (http1 ? ` Over v2 JSON at 1 client: p50 ${(http1.p50Ms * 1000).toFixed(0)} µs end to end (${signed(http1.p50Ms * 1000 - inP50)} µs, client and loopback TCP included), server CPU ${http1.serverCpuUsPerRequest.toFixed(0)} µs a request (${signed(http1.serverCpuUsPerRequest - inCpu)} µs over in-process).` : '') +
      (http1 && bare1 ? ` The v2 server's own overhead at 1 client, over the same fastify handler on ort-napi's run(): p50 ${signed((http1.p50Ms - bare1.p50Ms) * 1000)} µs, CPU ${signed(http1.serverCpuUsPerRequest - bare1.serverCpuUsPerRequest)} µs a request.` : '') +
      (grpc1 ? ` gRPC at 1 client: p50 ${(grpc1.p50Ms * 1000).toFixed(0)} µs, server CPU ${grpc1.serverCpuUsPerRequest.toFixed(0)} µs.` : '') +
      (ours && base ? ` At ${Math.max(...clientsList)} clients, v2 JSON: ${(ours.rps / base.rps).toFixed(2)}x the baseline's throughput, p99 ${ours.p99Ms.toFixed(2)} vs ${base.p99Ms.toFixed(2)} ms.` : '') +
      (workers && base ? ` With --workers ${WORKERS}: ${(workers.rps / base.rps).toFixed(2)}x, p99 ${workers.p99Ms.toFixed(2)} ms.` : '') +
      (ceiling && base ? ` The HTTP ceiling (fastify answering without running the model, one process): ${Math.round(ceiling.rps).toLocaleString('en-US')} req/s, ${(ceiling.rps / base.rps).toFixed(2)}x the baseline's.` : '') +
      // What twice the baseline's throughput asks of this machine, where the load generator shares
      // its CPUs: the server and the client together may spend at most CPUs / (2 x baseline) a request.
      (ceiling && base
        ? ` Twice the baseline (${Math.round(2 * base.rps).toLocaleString('en-US')} req/s) on these ${cpus().length} CPUs, shared with the load generator, leaves at most ${((cpus().length * 1e6) / (2 * base.rps)).toFixed(0)} µs of CPU a request for server and client together; the client alone spent ${ceiling.clientCpuUsPerRequest.toFixed(0)} µs, and fastify answering without a model ${ceiling.serverCpuUsPerRequest.toFixed(0)} µs (the baseline's run kept the machine ${Math.round(base.machineBusy * 100)}% busy).`
        : '') +
      (grpcCeilingRow && base ? ` The gRPC ceiling (grpc-js answering without running the model, one process): ${Math.round(grpcCeilingRow.rps).toLocaleString('en-US')} req/s, ${(grpcCeilingRow.rps / base.rps).toFixed(2)}x the baseline's${grpcMax ? `; ort-napi gRPC reaches ${((grpcMax.rps / grpcCeilingRow.rps) * 100).toFixed(0)}% of it` : ''}.` : ''));
  }
  process.stdout.write(lines.join('\n') + '\n');
  const outDir = join(root, 'bench', 'build', 'server');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model }, rounds, seconds, config: SERVE_CONFIG, rows: summary, inProcess: inproc, runs: results }, null, 2));
  process.stderr.write(`bench:server: JSON in ${join(outDir, 'results.json')}\n`);
}

const checks: Record<string, number[]> = {};

const [role, ...rest] = process.argv.slice(2);
const roles: Record<string, () => Promise<void>> = {
  baseline: () => baseline(rest[0], rest[1]),
  inproc: () => inProcess(rest[0], Number(rest[1]), Number(rest[2])),
};
(roles[role] ?? (() => main(process.argv.slice(2))))().catch((error: Error) => {
  for (const child of running) child.kill('SIGKILL');
  process.stderr.write(`bench:server: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
