// 97.server.deploy: deploy/ (the Dockerfile and the KServe manifests) agrees with what the server
// exposes: the ports it is told to listen on, the probe and metrics paths it answers, the v2
// protocol on REST and gRPC. The CLI is started with the manifest's own arguments.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linear } from './support/models.js';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');

const root = resolve(__dirname, '..');
type Yaml = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The block YAML the manifests use (mappings, sequences of scalars or mappings, quoted and plain
 * scalars, comments), parsed strictly: anything else fails the test rather than being misread.
 */
function parseYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((raw, n) => ({ n: n + 1, indent: raw.search(/\S/), text: raw.replace(/\s+#.*$/, '').trim() }))
    .filter((l) => l.indent >= 0 && l.text !== '' && !l.text.startsWith('#'));
  let at = 0;
  const scalar = (s: string): unknown => {
    if (/^".*"$/.test(s)) return JSON.parse(s);
    if (/^'.*'$/.test(s)) return s.slice(1, -1);
    if (s === 'true' || s === 'false') return s === 'true';
    if (/^-?[0-9]+$/.test(s)) return Number(s);
    if (/^[\][{}&*!|>%@`]/.test(s)) throw new Error(`unsupported YAML at line ${lines[at - 1]?.n}: ${s}`);
    return s;
  };
  const block = (indent: number): Yaml => {
    const first = lines[at];
    if (first.text.startsWith('- ')) {
      const list: unknown[] = [];
      while (at < lines.length && lines[at].indent === indent && lines[at].text.startsWith('- ')) {
        const line = lines[at];
        const rest = line.text.slice(2);
        if (/^[A-Za-z0-9_.\-/]+:( |$)/.test(rest)) {
          // A mapping item: its first key on the dash line, the rest indented under it.
          lines[at] = { n: line.n, indent: indent + 2, text: rest };
          list.push(block(indent + 2));
        } else {
          at++;
          list.push(scalar(rest));
        }
      }
      return list;
    }
    const map: Record<string, unknown> = {};
    while (at < lines.length && lines[at].indent === indent && !lines[at].text.startsWith('- ')) {
      const line = lines[at++];
      const m = /^([A-Za-z0-9_.\-/]+):(?: (.*))?$/.exec(line.text);
      if (!m) throw new Error(`unsupported YAML at line ${line.n}: ${line.text}`);
      if (m[2] !== undefined) map[m[1]] = scalar(m[2]);
      else if (at < lines.length && (lines[at].indent > indent || (lines[at].indent === indent && lines[at].text.startsWith('- ')))) map[m[1]] = block(lines[at].indent);
      else map[m[1]] = null;
    }
    if (at < lines.length && lines[at].indent > indent) throw new Error(`bad indentation at line ${lines[at].n}`);
    return map;
  };
  const doc = block(0);
  if (at !== lines.length) throw new Error(`unparsed YAML from line ${lines[at].n}`);
  return doc;
}

const manifest = (name: string) => parseYaml(readFileSync(join(root, 'deploy', 'kserve', name), 'utf8'));
const runtime = manifest('servingruntime.yaml');
const restService = manifest('inferenceservice.yaml');
const grpcService = manifest('inferenceservice-grpc.yaml');
const dockerfile = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
const container = runtime.spec.containers[0];
const arg = (args: string[], name: string) => args[args.indexOf(name) + 1];
const httpPort = Number(arg(container.args, '--http-port'));
const grpcPort = Number(arg(container.args, '--grpc-port'));

describe('deploy/', () => {
  it('the ServingRuntime: v2 over REST and gRPC, ONNX, probes and metrics on the REST port', () => {
    expect(runtime.apiVersion).toBe('serving.kserve.io/v1alpha1');
    expect(runtime.kind).toBe('ServingRuntime');
    expect(runtime.spec.protocolVersions).toEqual(['v2', 'grpc-v2']);
    expect(runtime.spec.supportedModelFormats).toContainEqual(expect.objectContaining({ name: 'onnx', autoSelect: true }));
    expect(container.name).toBe('kserve-container'); // the name KServe merges the predictor's fields into
    expect(arg(container.args, '--model-repository')).toBe('/mnt/models'); // where KServe's storage initializer puts models
    expect([httpPort, grpcPort]).toEqual([8080, 9000]);
    // The drain fits Kubernetes' default grace period (30 s) before SIGKILL.
    expect(Number(arg(container.args, '--drain-delay-ms')) + Number(arg(container.args, '--drain-timeout-ms'))).toBeLessThan(30_000);
    expect(container.ports).toEqual([{ containerPort: httpPort, name: 'h1', protocol: 'TCP' }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: httpPort });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: httpPort });
    expect(runtime.spec.annotations).toEqual({ 'prometheus.kserve.io/port': String(httpPort), 'prometheus.kserve.io/path': '/metrics' });
  });

  it('the InferenceServices use that runtime: REST on its port, gRPC on the h2c port', () => {
    for (const service of [restService, grpcService]) {
      expect(service.apiVersion).toBe('serving.kserve.io/v1beta1');
      expect(service.kind).toBe('InferenceService');
      expect(service.spec.predictor.model.runtime).toBe(runtime.metadata.name);
      expect(service.spec.predictor.model.modelFormat.name).toBe('onnx');
    }
    expect(restService.spec.predictor.model.protocolVersion).toBe('v2');
    expect(restService.spec.predictor.model.ports).toBeUndefined(); // the runtime's h1 port
    expect(grpcService.spec.predictor.model.protocolVersion).toBe('grpc-v2');
    expect(grpcService.spec.predictor.model.ports).toEqual([{ containerPort: grpcPort, name: 'h2c', protocol: 'TCP' }]);
  });

  it("the Dockerfile exposes those ports and runs the CLI with the runtime's arguments by default", () => {
    expect(/^EXPOSE (.*)$/m.exec(dockerfile)?.[1].split(/\s+/).map(Number)).toEqual([httpPort, grpcPort]);
    expect(JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1])).toEqual(['node', 'dist/cli.js', 'serve']);
    expect(JSON.parse(/^CMD (.*)$/m.exec(dockerfile)![1])).toEqual(container.args);
    // What the runtime image needs at run time is copied into it: the build, the proto, the prebuilt addon and core.
    for (const path of ['./dist', './lib/server/grpc_predict_v2.proto', './prebuilds', './node_modules']) expect(dockerfile).toContain(` ${path}\n`);
  });

  it("the CLI, started with the runtime's arguments, answers the probes, /metrics and v2 on both protocols", async () => {
    const repo = mkdtempSync(join(tmpdir(), 'ort-napi-kserve-'));
    mkdirSync(join(repo, restService.metadata.name, '1'), { recursive: true });
    writeFileSync(join(repo, restService.metadata.name, '1', 'model.onnx'), linear());
    // The manifest's arguments as they are, but the model path (KServe's mount) and the ports
    // (free ones on loopback: 8080 may be taken on a test machine).
    const args = (container.args as string[]).map((a, i, all) => (all[i - 1] === '--model-repository' ? repo : all[i - 1] === '--http-port' || all[i - 1] === '--grpc-port' ? '0' : a));
    const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', ...args, '--host', '127.0.0.1', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const printed = await new Promise<string>((done, fail) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (/gRPC \S+/.test(out)) done(out);
        });
        exited.then((code) => fail(new Error(`exited ${code}`)));
      });
      const http = /HTTP (\S+)/.exec(printed)![1];
      for (const probe of [container.readinessProbe.httpGet.path, container.livenessProbe.httpGet.path]) expect([probe, (await fetch(http + probe)).status]).toEqual([probe, 200]);
      const metrics = await fetch(http + runtime.spec.annotations['prometheus.kserve.io/path']);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('# TYPE ort_napi_inference_request_success_total counter');
      // v2 REST: the model of the InferenceService, by its name.
      const infer = await fetch(`${http}/v2/models/${restService.metadata.name}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
      expect(await infer.json()).toMatchObject({ model_name: 'linear', outputs: [{ data: [4.5, 4.5] }] });
      // grpc-v2: the runtime's gRPC listener answers inference.GRPCInferenceService.
      const definition = protoLoader.loadSync(join(root, 'lib', 'server', 'grpc_predict_v2.proto'), { keepCase: true, longs: String, defaults: true });
      const Service = (grpc.loadPackageDefinition(definition) as Yaml).inference.GRPCInferenceService;
      const client = new Service(/gRPC (\S+)/.exec(printed)![1], grpc.credentials.createInsecure());
      const ready = await new Promise((done, fail) => client.ModelReady({ name: 'linear' }, (e: Error | null, r: unknown) => (e ? fail(e) : done(r))));
      expect(ready).toEqual({ ready: true });
      client.close();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it("the proto's services, messages and field numbers are KServe's grpc_predict_v2.proto, and Triton's for its statistics, configuration and repository RPCs", () => {
    const definition = protoLoader.loadSync(join(root, 'lib', 'server', 'grpc_predict_v2.proto'), { keepCase: true });
    type Descriptor = { name: string; field: { name: string; number: number }[]; nestedType: Descriptor[] };
    const fields = (path: string) => {
      const [top, ...nested] = path.split('.');
      let type = (definition[`inference.${top}`] as unknown as { type: Descriptor }).type;
      for (const name of nested) type = type.nestedType.find((t) => t.name === name)!;
      return Object.fromEntries(type.field.map((f) => [f.name, f.number]));
    };
    // As published in kserve/kserve docs/predict-api/v2/grpc_predict_v2.proto.
    expect(Object.keys(definition['inference.GRPCInferenceService'])).toEqual(['ServerLive', 'ServerReady', 'ModelReady', 'ServerMetadata', 'ModelMetadata', 'ModelInfer', 'ModelStatistics', 'ModelConfig', 'RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload']);
    expect(fields('ModelReadyRequest')).toEqual({ name: 1, version: 2 });
    expect(fields('ServerMetadataResponse')).toEqual({ name: 1, version: 2, extensions: 3 });
    expect(fields('ModelMetadataResponse')).toEqual({ name: 1, versions: 2, platform: 3, inputs: 4, outputs: 5 });
    expect(fields('ModelMetadataResponse.TensorMetadata')).toEqual({ name: 1, datatype: 2, shape: 3 });
    expect(fields('ModelInferRequest')).toEqual({ model_name: 1, model_version: 2, id: 3, parameters: 4, inputs: 5, outputs: 6, raw_input_contents: 7 });
    expect(fields('ModelInferRequest.InferInputTensor')).toEqual({ name: 1, datatype: 2, shape: 3, parameters: 4, contents: 5 });
    expect(fields('ModelInferRequest.InferRequestedOutputTensor')).toEqual({ name: 1, parameters: 2 });
    expect(fields('ModelInferResponse')).toEqual({ model_name: 1, model_version: 2, id: 3, parameters: 4, outputs: 5, raw_output_contents: 6 });
    expect(fields('ModelInferResponse.InferOutputTensor')).toEqual({ name: 1, datatype: 2, shape: 3, parameters: 4, contents: 5 });
    expect(fields('InferParameter')).toEqual({ bool_param: 1, int64_param: 2, string_param: 3 });
    expect(fields('InferTensorContents')).toEqual({ bool_contents: 1, int_contents: 2, int64_contents: 3, uint_contents: 4, uint64_contents: 5, fp32_contents: 6, fp64_contents: 7, bytes_contents: 8 });
    // As in triton-inference-server/common's grpc_service.proto (the statistics extension).
    expect(fields('ModelStatisticsRequest')).toEqual({ name: 1, version: 2 });
    expect(fields('ModelStatisticsResponse')).toEqual({ model_stats: 1 });
    expect(fields('StatisticDuration')).toEqual({ count: 1, ns: 2 });
    expect(fields('ModelStatistics')).toEqual({ name: 1, version: 2, last_inference: 3, inference_count: 4, execution_count: 5, inference_stats: 6, batch_stats: 7 });
    expect(fields('InferStatistics')).toEqual({ success: 1, fail: 2, queue: 3, compute_input: 4, compute_infer: 5, compute_output: 6, cache_hit: 7, cache_miss: 8 });
    expect(fields('InferBatchStatistics')).toEqual({ batch_size: 1, compute_input: 2, compute_infer: 3, compute_output: 4 });
    expect(fields('ModelConfigRequest')).toEqual({ name: 1, version: 2 });
    expect(fields('ModelConfigResponse')).toEqual({ config: 1 });
    // model_config.proto's numbers, for the fields this server fills.
    expect(fields('ModelConfig')).toEqual({ name: 1, platform: 2, backend: 17, max_batch_size: 4, input: 5, output: 6, dynamic_batching: 11 });
    expect(fields('ModelInput')).toEqual({ name: 1, data_type: 2, dims: 4, optional: 8 });
    expect(fields('ModelOutput')).toEqual({ name: 1, data_type: 2, dims: 3 });
    expect(fields('ModelDynamicBatching')).toEqual({ preferred_batch_size: 1, max_queue_delay_microseconds: 2 });
    const dataType = (definition['inference.DataType'] as unknown as { type: { value: { name: string; number: number }[] } }).type.value;
    expect(Object.fromEntries(dataType.map((v) => [v.name, v.number]))).toEqual({ TYPE_INVALID: 0, TYPE_BOOL: 1, TYPE_UINT8: 2, TYPE_UINT16: 3, TYPE_UINT32: 4, TYPE_UINT64: 5, TYPE_INT8: 6, TYPE_INT16: 7, TYPE_INT32: 8, TYPE_INT64: 9, TYPE_FP16: 10, TYPE_FP32: 11, TYPE_FP64: 12, TYPE_STRING: 13, TYPE_BF16: 14 });
    expect(fields('RepositoryIndexRequest')).toEqual({ repository_name: 1, ready: 2 });
    expect(fields('RepositoryIndexResponse')).toEqual({ models: 1 });
    expect(fields('RepositoryIndexResponse.ModelIndex')).toEqual({ name: 1, version: 2, state: 3, reason: 4 });
    expect(fields('ModelRepositoryParameter')).toEqual({ bool_param: 1, int64_param: 2, string_param: 3, bytes_param: 4 });
    expect(fields('RepositoryModelLoadRequest')).toEqual({ repository_name: 1, model_name: 2, parameters: 3 });
    expect(fields('RepositoryModelUnloadRequest')).toEqual({ repository_name: 1, model_name: 2, parameters: 3 });
  });
});
