// grpc.ts: the v2 gRPC front end (inference.GRPCInferenceService) on @grpc/grpc-js, with the proto
// loaded by @grpc/proto-loader. Parses, calls the core, formats; raw contents both ways.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { checkShape, fromBinary, fromContents, quoted, toBinary } from './codec.js';
import type { Coordination } from './cluster.js';
import type { InferenceCore, InferInput } from './core.js';
import { invalidArgument, ServerError, toServerError } from './errors.js';
import { EXTENSIONS, SERVER_NAME, tritonConfig } from './http.js';
import { SpareControllers } from '../spare-controllers.js';
import { checkRepositoryParameters, type ModelVersion } from './repository.js';

/** The proto beside the compiled file (dist/server), or in lib/server where the package ships it. */
export const PROTO_PATH = [join(__dirname, 'grpc_predict_v2.proto'), join(__dirname, '..', '..', 'lib', 'server', 'grpc_predict_v2.proto')].find((p) => existsSync(p)) ?? join(__dirname, 'grpc_predict_v2.proto');

/** How the server (and the tests' independent client) load the proto: int64 as strings, bytes as Buffers. */
export const PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- decoded protobuf messages

export interface GrpcContext {
  core: InferenceCore;
  version: string;
  ready(): boolean;
  log: { error(fields: object, message: string): void };
  /** Statistics over every worker (cluster.ts), or this server's own. */
  statistics: Coordination['statistics'];
  /** Repository changes on every worker (cluster.ts), or this server's own. */
  repository: Coordination['repository'];
}

function serviceDefinition(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(PROTO_PATH, PROTO_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: { service: grpc.ServiceDefinition } } };
  return loaded.inference.GRPCInferenceService.service;
}

/**
 * Characters of an error message sent as a call's status details. They travel percent-encoded in the
 * grpc-message trailer, and a trailer past the client's limit on headers (64 KiB in Node's http2,
 * under grpc-js; 8-16 KiB in gRPC's C core) never arrives: the call hangs until its deadline, or for
 * ever without one (seen with a 200 KB message). Messages are kept short where they are made
 * (brief, dimsText); this bounds any that is not.
 */
const MAX_DETAILS = 1024;

function fail(callback: grpc.sendUnaryData<Json>, error: unknown): void {
  const server = toServerError(error);
  const message = server.message;
  const details = message.length <= MAX_DETAILS ? message : `${message.slice(0, MAX_DETAILS)}... (cut: ${message.length} characters)`;
  callback({ code: server.grpcCode, details } as grpc.ServiceError, null);
}

/**
 * A call's cancellation: the signal its request runs under, and whether it was answered. grpc-js
 * emits 'cancelled' when any call's stream closes, answered or not: only an unanswered one is a
 * cancellation. One listener function for all calls, and controllers reused once their call is
 * answered: a closure and an AbortController made per call kept every call's objects alive
 * through young-generation GCs (the same as in SessionPool, whose note says more).
 */
interface Cancellation {
  controller: AbortController;
  answered: boolean;
}
const CANCELLATION = Symbol('ort-napi.cancellation');
type CancellableCall = grpc.ServerUnaryCall<Json, Json> & { [CANCELLATION]?: Cancellation };

function onCancelled(this: CancellableCall): void {
  const state = this[CANCELLATION];
  if (state && !state.answered) state.controller.abort(new DOMException('the client cancelled the call', 'AbortError'));
}

function tensorMetadata(t: ModelVersion['inputs'][number]): Json {
  return { name: t.name, datatype: t.datatype ?? `ONNX_${t.type.toUpperCase()}`, shape: t.shape };
}

function toShape(what: string, shape: unknown): number[] {
  const dims = (Array.isArray(shape) ? shape : []).map(Number);
  checkShape(what, dims);
  return dims;
}

/** A call's deadline as milliseconds left, or undefined when the client set none. */
function deadlineMs(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? at - Date.now() : undefined;
}

export function createGrpcServer(context: GrpcContext, options: { maxMessageBytes: number }): grpc.Server {
  const { core } = context;
  const controllers = new SpareControllers(); // see Cancellation
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': -1,
    // Channelz keeps per-call counters and timestamps (closures and Date.now() on every call) for a
    // channelz service this server does not offer. Off: 1-5% more ModelInfer calls a second (small
    // model, 64 clients, 3 alternating pairs).
    'grpc.enable_channelz': 0,
  });
  // A load or unload, on every worker (cluster.ts) before it is answered, as over REST.
  const repositoryChange = (op: 'load' | 'unload', call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => {
    const name: string = call.request.model_name;
    try {
      checkRepositoryParameters(op, call.request.parameters);
      if (!name) throw invalidArgument(`the ${op} request names no model (model_name)`);
    } catch (error) {
      return fail(callback, error);
    }
    context.repository(op, name, () => (op === 'load' ? core.repository.load(name) : core.repository.unload(name))).then(
      () => callback(null, {}),
      (error) => fail(callback, error),
    );
  };
  const handlers: grpc.UntypedServiceImplementation = {
    ServerLive: (_call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => callback(null, { live: true }),
    ServerReady: (_call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => callback(null, { ready: context.ready() }),
    ServerMetadata: (_call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) =>
      callback(null, { name: SERVER_NAME, version: context.version, extensions: EXTENSIONS }),
    ModelReady: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => {
      try {
        core.repository.resolve(call.request.name, call.request.version);
        callback(null, { ready: context.ready() });
      } catch (error) {
        // A model the repository holds but has not loaded is not ready; an unknown one is an error.
        if (error instanceof ServerError && error.kind === 'UNAVAILABLE') callback(null, { ready: false });
        else fail(callback, error);
      }
    },
    ModelMetadata: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => {
      try {
        const model = core.repository.resolve(call.request.name, call.request.version);
        callback(null, {
          name: model.name,
          versions: core.repository.versions(model.name),
          platform: 'onnxruntime_onnx',
          inputs: model.inputs.map(tensorMetadata),
          outputs: model.outputs.map(tensorMetadata),
        });
      } catch (error) {
        fail(callback, error);
      }
    },
    ModelStatistics: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => {
      let selection;
      try {
        selection = core.repository.statsSelection(call.request.name, call.request.version);
      } catch (error) {
        return fail(callback, error);
      }
      context.statistics(selection).then(
        (stats) => callback(null, { model_stats: stats }),
        (error) => fail(callback, error),
      );
    },
    ModelConfig: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => {
      try {
        callback(null, { config: tritonConfig(core.repository.resolve(call.request.name, call.request.version)) });
      } catch (error) {
        fail(callback, error);
      }
    },
    RepositoryIndex: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) =>
      callback(null, { models: core.repository.index(call.request.ready === true).map((m) => ({ name: m.name, version: m.version ?? '', state: m.state, reason: m.reason })) }),
    RepositoryModelLoad: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => repositoryChange('load', call, callback),
    RepositoryModelUnload: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => repositoryChange('unload', call, callback),
    ModelInfer: (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => {
      const state: Cancellation = { controller: controllers.take(), answered: false };
      (call as CancellableCall)[CANCELLATION] = state;
      call.on('cancelled', onCancelled);
      const controller = state.controller;
      const request = call.request;
      core
        .infer('grpc', request.model_name, request.model_version, () => {
          const raw: Buffer[] = request.raw_input_contents ?? [];
          const inputs: Json[] = request.inputs ?? [];
          if (raw.length > 0 && raw.length !== inputs.length) {
            throw invalidArgument(`raw_input_contents has ${raw.length} entries but there are ${inputs.length} inputs: give one per input, in their order`);
          }
          const decoded: InferInput[] = inputs.map((input, i) => {
            const what = `input ${quoted(input.name)}`;
            return {
              name: input.name,
              datatype: input.datatype,
              shape: input.shape,
              decode: () => {
                const shape = toShape(what, input.shape);
                if (raw.length > 0) return fromBinary(what, input.datatype, shape, raw[i]);
                if (!input.contents) throw invalidArgument(`${what} has no contents and the request no raw_input_contents`);
                return fromContents(what, input.datatype, shape, input.contents);
              },
            };
          });
          return { inputs: decoded, outputs: (request.outputs ?? []).map((o: Json) => o.name), timeoutMs: deadlineMs(call), signal: controller.signal };
        }, () => call.metadata.getMap())
        .finally(() => {
          state.answered = true;
          // Its request is over: no pool or run listens on the signal any more.
          controllers.giveBack(controller);
        })
        .then(
          ({ model, outputs }) => {
            let response: Json;
            try {
              response = {
                model_name: model.name,
                model_version: model.version,
                id: request.id,
                outputs: outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
                raw_output_contents: outputs.map((o) => toBinary(o.tensor)),
              };
            } catch (error) {
              return fail(callback, error); // thrown here, it would be an unhandled rejection
            }
            callback(null, response);
          },
          (error) => {
            const server = toServerError(error);
            if (server.kind === 'INTERNAL') context.log.error({ err: error, model: request.model_name }, 'inference failed');
            fail(callback, server);
          },
        );
    },
  };
  server.addService(serviceDefinition(), handlers);
  return server;
}

/** Binds the server; resolves to the port it got (0 picks a free one). */
export function bindGrpc(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
}

/** Stops taking calls and resolves once the ones in flight are answered. */
export function shutdownGrpc(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => server.tryShutdown(() => resolve()));
}
