// http.ts: the v2 REST front end on fastify: health, metadata, infer (JSON and Triton's binary
// tensor extension), the repository and statistics extensions, and /metrics. Parses, calls the core, formats.
import type { Socket } from 'node:net';
import { deflate, gunzip, gzip, inflate, inflateRaw } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { native } from '../binding.js';
import { brief, fromBinary, fromJson, quoted, toBinary, toJsonData } from './codec.js';
import type { Coordination } from './cluster.js';
import type { InferCall, InferenceCore, InferInput, InferOutput } from './core.js';
import { invalidArgument, ServerError, toServerError } from './errors.js';
import type { Metrics } from './metrics.js';
import { checkRepositoryParameters, type ModelVersion } from './repository.js';

export const SERVER_NAME = 'ort-napi';
/** What GET /v2 and ServerMetadata list: the v2 extensions this server implements on both protocols. */
export const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'model_configuration', 'statistics'];

/** A request's own deadline in milliseconds (Triton's `timeout` request parameter, in µs, works too). */
export const TIMEOUT_HEADER = 'inference-timeout-ms';
const HEADER_LENGTH = 'inference-header-content-length';
const JSON_TYPE = 'application/json; charset=utf-8';
/**
 * From this many bytes of JSON on, the native reader goes first: it converts numbers about 5 times
 * faster than JSON.parse, but builds small objects slower (measured: 44 against 108 us for a
 * 512-number request, 11.6 against 4.0 us for a 3-number one; even at about 1.4 KB).
 */
const NATIVE_JSON_FROM = 1536;

interface Params {
  name: string;
  version?: string;
}

type Json = Record<string, unknown>;

export interface HttpContext {
  core: InferenceCore;
  metrics: Metrics | undefined;
  /** Metrics and repository changes: this server's own, or every worker's (cluster.ts). */
  coordination: Coordination;
  version: string;
  /** True once the server is started and not draining. */
  ready(): boolean;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sendError(reply: FastifyReply, error: ServerError): FastifyReply {
  return reply.code(error.httpStatus).header('content-type', JSON_TYPE).send(JSON.stringify({ error: error.message }));
}

function metadata(core: InferenceCore, model: ModelVersion): Json {
  const tensor = (t: ModelVersion['inputs'][number]) => ({ name: t.name, datatype: t.datatype ?? `ONNX_${t.type.toUpperCase()}`, shape: t.shape });
  return { name: model.name, versions: core.repository.versions(model.name), platform: 'onnxruntime_onnx', inputs: model.inputs.map(tensor), outputs: model.outputs.map(tensor) };
}

/**
 * A model as Triton's model configuration extension shows it (GET .../config: model_config.proto's
 * ModelConfig in JSON), for the clients that read it: Triton's examples and perf_analyzer take
 * max_batch_size and the dims from it. With dynamic batching, max_batch_size is the batch limit and
 * dims leave out the batch dim, as Triton's do; without, max_batch_size is 0 and dims are whole.
 * A type v2 cannot carry is TYPE_INVALID. The gRPC ModelConfig RPC answers with the same object.
 */
export function tritonConfig(model: ModelVersion): Json {
  const batching = model.batching;
  const tensor = (t: ModelVersion['inputs'][number], input: boolean) => ({
    name: t.name,
    data_type: t.datatype === undefined ? 'TYPE_INVALID' : t.datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${t.datatype}`,
    dims: batching ? t.shape.slice(1) : t.shape,
    ...(input && t.optional ? { optional: true } : {}),
  });
  return {
    name: model.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    max_batch_size: batching ? batching.maxBatchSize : 0,
    input: model.inputs.map((t) => tensor(t, true)),
    output: model.outputs.map((t) => tensor(t, false)),
    ...(batching
      ? { dynamic_batching: { max_queue_delay_microseconds: Math.round(batching.maxDelayMs * 1000), preferred_batch_size: batching.preferredBatchSizes ?? [] } }
      : {}),
  };
}

/** Reads an infer request body: JSON alone, or a JSON header followed by binary tensor data. */
function readBody(request: FastifyRequest): { header: Json; binary: Buffer } {
  const body = request.body;
  if (!Buffer.isBuffer(body) || body.length === 0) throw invalidArgument('the request has no body: an infer request is a JSON object with "inputs"');
  const lengthHeader = request.headers[HEADER_LENGTH];
  let headerLength = body.length;
  if (lengthHeader !== undefined) {
    const text = Array.isArray(lengthHeader) ? lengthHeader[0] : lengthHeader;
    headerLength = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!(headerLength >= 0 && headerLength <= body.length)) {
      throw invalidArgument(`Inference-Header-Content-Length is ${JSON.stringify(text)}, but the body has ${body.length} bytes`);
    }
  }
  let header = headerLength >= NATIVE_JSON_FROM ? native.parseJson(body, headerLength) : undefined;
  if (header === undefined) {
    try {
      header = JSON.parse(body.toString('utf8', 0, headerLength));
    } catch (error) {
      throw invalidArgument(`the request's JSON is malformed: ${(error as Error).message}`);
    }
  }
  if (!isObject(header)) throw invalidArgument('the request must be a JSON object with "inputs"');
  return { header, binary: body.subarray(headerLength) };
}

function parameter(where: Json, name: string): unknown {
  return isObject(where.parameters) ? where.parameters[name] : undefined;
}

/** The core's view of an infer request, with what the response needs: the id and which outputs go binary. */
function parseInfer(request: FastifyRequest, signal: AbortSignal): { call: InferCall; id: unknown; binaryOutputs: Set<string> | 'all' | undefined } {
  const { header, binary } = readBody(request);
  // An empty array is a request: a model whose inputs are all optional takes it.
  if (!Array.isArray(header.inputs)) throw invalidArgument('the request must have "inputs": an array of tensors');
  if (header.parameters !== undefined && !isObject(header.parameters)) throw invalidArgument('"parameters" must be an object');
  // The response echoes it: a string, as the protocol has it, so that what is echoed stays small and flat.
  if (header.id !== undefined && typeof header.id !== 'string') throw invalidArgument(`"id" must be a string, got ${brief(header.id)}`);
  let offset = 0;
  const inputs: InferInput[] = header.inputs.map((input: unknown, i: number) => {
    if (!isObject(input)) throw invalidArgument(`inputs[${i}] must be an object { name, shape, datatype, data }`);
    const what = `input ${quoted(input.name)}`;
    const size = parameter(input, 'binary_data_size');
    if (size === undefined) {
      if (input.data === undefined) throw invalidArgument(`${what} has neither "data" nor a "binary_data_size" parameter`);
      return { name: input.name as string, datatype: input.datatype, shape: input.shape, decode: () => fromJson(what, input.datatype, input.shape, input.data) };
    }
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalidArgument(`${what}: binary_data_size must be a non-negative integer, got ${brief(size)}`);
    if (offset + size > binary.length) {
      throw invalidArgument(`${what}: binary_data_size is ${size}, but only ${binary.length - offset} bytes of binary data remain after the JSON header (truncated body?)`);
    }
    const bytes = binary.subarray(offset, offset + size);
    offset += size;
    return { name: input.name as string, datatype: input.datatype, shape: input.shape, decode: () => fromBinary(what, input.datatype, input.shape, bytes) };
  });
  if (offset !== binary.length) throw invalidArgument(`the body has ${binary.length - offset} bytes of binary data beyond what the inputs' binary_data_size parameters claim`);

  let outputs: string[] | undefined;
  let binaryOutputs: Set<string> | 'all' | undefined = parameter(header, 'binary_data_output') === true ? 'all' : undefined;
  if (header.outputs !== undefined) {
    const requested = header.outputs;
    if (!Array.isArray(requested)) throw invalidArgument('"outputs" must be an array of { name, parameters? }');
    const all = binaryOutputs === 'all';
    const binary = new Set<string>();
    outputs = requested.map((out: unknown, i: number) => {
      if (!isObject(out) || typeof out.name !== 'string') throw invalidArgument(`outputs[${i}] must be an object with a "name"`);
      // An output's own binary_data overrides the request's binary_data_output.
      const wantsBinary = parameter(out, 'binary_data');
      if (wantsBinary === true || (all && wantsBinary !== false)) binary.add(out.name);
      return out.name;
    });
    binaryOutputs = binary.size > 0 ? binary : undefined;
  }
  return { call: { inputs, outputs, timeoutMs: timeoutOf(request, header), signal }, id: header.id, binaryOutputs };
}

function timeoutOf(request: FastifyRequest, header: Json): number | undefined {
  const given = request.headers[TIMEOUT_HEADER];
  if (given !== undefined) {
    const text = Array.isArray(given) ? given[0] : given;
    const ms = Number(text);
    if (text.trim() === '' || !Number.isFinite(ms) || ms < 0) throw invalidArgument(`the ${TIMEOUT_HEADER} header must be a number of milliseconds, got ${JSON.stringify(text)}`);
    return ms;
  }
  const micros = parameter(header, 'timeout');
  if (micros === undefined) return undefined;
  if (typeof micros !== 'number' || !Number.isFinite(micros) || micros < 0) throw invalidArgument(`the "timeout" parameter must be a number of microseconds, got ${brief(micros)}`);
  return micros === 0 ? undefined : micros / 1000;
}

/**
 * A request body in the content coding its Content-Encoding names, decoded: Triton's clients send
 * gzip or deflate bodies (`request_compression_algorithm`), and so may any HTTP client. Decoded on
 * libuv's thread pool, never past `limit` bytes (the server's body limit, which the encoded body
 * met already): a small body that inflates to gigabytes is refused with 413 once `limit` bytes
 * came out, and nothing larger is ever held.
 */
function decodeBody(encoding: string | string[], body: Buffer, limit: number, done: (error: Error | null, body?: Buffer) => void): void {
  const coding = (Array.isArray(encoding) ? encoding.join(',') : encoding).trim().toLowerCase();
  if (coding === '' || coding === 'identity') return done(null, body);
  // "deflate" is the zlib format (RFC 9110); some clients send a bare deflate stream, which has no
  // zlib header (a compression-method nibble of 8 and a check of the first two bytes mod 31).
  const zlibHeader = body.length >= 2 && (body[0] & 0x0f) === 8 && ((body[0] << 8) | body[1]) % 31 === 0;
  const decode = coding === 'gzip' || coding === 'x-gzip' ? gunzip : coding === 'deflate' ? (zlibHeader ? inflate : inflateRaw) : undefined;
  if (decode === undefined) {
    return done(new ServerError('UNSUPPORTED_ENCODING', `the request body's Content-Encoding ${brief(coding)} is not one this server decodes (gzip, deflate, identity)`));
  }
  decode(body, { maxOutputLength: limit }, (error, decoded) => {
    if (!error) return done(null, decoded);
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return done(new ServerError('PAYLOAD_TOO_LARGE', `the request body decodes (${coding}) to more than the server's limit of ${limit} bytes`));
    }
    done(invalidArgument(`the request body is not valid ${coding} data (${error.message})`));
  });
}

/** Below this many bytes a response goes as it is, whatever the client accepts: compressing it gains little. */
const COMPRESS_FROM = 1024;

/** The coding to answer in, from the request's Accept-Encoding: gzip or deflate, the one of higher q (gzip on a tie). */
function responseCoding(accept: string | string[]): 'gzip' | 'deflate' | undefined {
  let best: 'gzip' | 'deflate' | undefined;
  let bestQ = 0;
  for (const part of (Array.isArray(accept) ? accept.join(',') : accept).split(',')) {
    const [name, ...params] = part.split(';');
    const token = name.trim().toLowerCase();
    const coding = token === 'gzip' || token === 'x-gzip' || token === '*' ? 'gzip' : token === 'deflate' ? 'deflate' : undefined;
    if (coding === undefined) continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (weight > bestQ || (weight === bestQ && coding === 'gzip' && best !== 'gzip')) {
      best = coding;
      bestQ = weight;
    }
  }
  return bestQ > 0 ? best : undefined;
}

/**
 * Sends an infer response, compressed when the client accepts gzip or deflate (Triton's clients ask
 * with `response_compression_algorithm`) and the body is worth it: compressed on libuv's thread
 * pool, so the event loop goes on meanwhile. The binary extension's
 * Inference-Header-Content-Length counts the JSON header's bytes before compression, as Triton's do.
 */
function sendBody(reply: FastifyReply, body: string | Buffer): FastifyReply | Promise<FastifyReply> {
  const accept = reply.request.headers['accept-encoding'];
  const coding = accept === undefined || body.length < COMPRESS_FROM ? undefined : responseCoding(accept);
  if (coding === undefined) return reply.send(body);
  return new Promise((resolve) => {
    (coding === 'gzip' ? gzip : deflate)(body, (error, compressed) => {
      // A failure to compress (out of memory, say) still answers, uncompressed.
      if (error) return resolve(reply.send(body));
      resolve(reply.header('content-encoding', coding).header('vary', 'accept-encoding').send(compressed));
    });
  });
}

function sendInferResponse(reply: FastifyReply, model: ModelVersion, id: unknown, outputs: InferOutput[], binaryOutputs: Set<string> | 'all' | undefined): FastifyReply | Promise<FastifyReply> {
  const response: Json = { model_name: model.name, model_version: model.version };
  if (id !== undefined) response.id = id;
  if (binaryOutputs === undefined) {
    response.outputs = outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: toJsonData(o.tensor) }));
    // The header set as is: reply.type() parses the media type on every call.
    return sendBody(reply.header('content-type', JSON_TYPE), JSON.stringify(response));
  }
  const chunks: Buffer[] = [];
  response.outputs = outputs.map((o) => {
    if (binaryOutputs !== 'all' && !binaryOutputs.has(o.name)) return { name: o.name, datatype: o.datatype, shape: o.shape, data: toJsonData(o.tensor) };
    const bytes = toBinary(o.tensor);
    chunks.push(bytes);
    return { name: o.name, datatype: o.datatype, shape: o.shape, parameters: { binary_data_size: bytes.length } };
  });
  const head = Buffer.from(JSON.stringify(response), 'utf8');
  return sendBody(reply.header('content-type', 'application/octet-stream').header('Inference-Header-Content-Length', String(head.length)), Buffer.concat([head, ...chunks]));
}

const connectionSignals = new WeakMap<Socket, AbortSignal>();

/**
 * A signal that aborts when the client's connection closes: a client that goes away stops its
 * request (out of the queue, or its run terminated). One per connection, not per request (an
 * AbortController costs more than a small model's run), which fits HTTP/1.1: a connection carries
 * one request at a time, and closing it abandons whatever it carries.
 */
function connectionSignal(socket: Socket): AbortSignal {
  let signal = connectionSignals.get(socket);
  if (!signal) {
    const controller = new AbortController();
    signal = controller.signal;
    connectionSignals.set(socket, signal);
    socket.once('close', () => controller.abort(new DOMException('the client closed the connection', 'AbortError')));
  }
  return signal;
}

/** The v2 routes, as a fastify plugin (an encapsulated context: its body parsing is its own). */
export function v2Routes(context: HttpContext) {
  const { core, metrics, coordination } = context;
  return async function routes(app: FastifyInstance): Promise<void> {
    // Bodies arrive as Buffers whatever their Content-Type: an infer body is JSON, or JSON and binary.
    // The two usual types are named: fastify caches the parser of a named type by the header's
    // text, where the catch-all costs a media-type parse and a lookup each request (about 4 us).
    app.removeAllContentTypeParsers();
    const limit = app.initialConfig.bodyLimit ?? 1024 * 1024;
    const asBuffer = (request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: Buffer) => void) => {
      const encoding = request.headers['content-encoding'];
      if (encoding === undefined) return done(null, body);
      decodeBody(encoding, body, limit, done);
    };
    app.addContentTypeParser(['application/json', 'application/octet-stream'], { parseAs: 'buffer' }, asBuffer);
    app.addContentTypeParser('*', { parseAs: 'buffer' }, asBuffer);

    app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      const status = error.statusCode;
      const server =
        error instanceof ServerError
          ? error
          : status === 413
            ? new ServerError('PAYLOAD_TOO_LARGE', `the request body is larger than the server's limit (${error.message})`)
            : status !== undefined && status >= 400 && status < 500
              ? new ServerError('INVALID_ARGUMENT', error.message)
              : toServerError(error);
      if (server.httpStatus >= 500) request.log.error({ err: error, reqId: request.id }, 'request failed');
      return sendError(reply, server);
    });

    app.get('/v2/health/live', async (_request, reply) => reply.send({ live: true }));
    app.get('/v2/health/ready', async (_request, reply) => {
      const ready = context.ready();
      return reply.code(ready ? 200 : 503).send({ ready });
    });
    app.get('/v2', async (_request, reply) => reply.send({ name: SERVER_NAME, version: context.version, extensions: EXTENSIONS }));

    const model = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
      try {
        return reply.send(metadata(core, core.repository.resolve(request.params.name, request.params.version)));
      } catch (error) {
        return sendError(reply, toServerError(error));
      }
    };
    app.get('/v2/models/:name', model);
    app.get('/v2/models/:name/versions/:version', model);
    const config = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
      try {
        return reply.send(tritonConfig(core.repository.resolve(request.params.name, request.params.version)));
      } catch (error) {
        return sendError(reply, toServerError(error));
      }
    };
    app.get('/v2/models/:name/config', config);
    app.get('/v2/models/:name/versions/:version/config', config);

    // The statistics extension (Triton's): every loaded version's, one model's, or one version's.
    const stats = async (request: FastifyRequest<{ Params: Partial<Params> }>, reply: FastifyReply) => {
      try {
        return reply.send({ model_stats: await coordination.statistics(core.repository.statsSelection(request.params.name, request.params.version)) });
      } catch (error) {
        return sendError(reply, toServerError(error));
      }
    };
    app.get('/v2/models/stats', stats);
    app.get('/v2/models/:name/stats', stats);
    app.get('/v2/models/:name/versions/:version/stats', stats);

    const ready = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
      try {
        const found = core.repository.resolve(request.params.name, request.params.version);
        if (!context.ready()) throw new ServerError('UNAVAILABLE', 'the server is not ready (starting or shutting down)');
        return reply.send({ name: found.name, ready: true });
      } catch (error) {
        return sendError(reply, toServerError(error));
      }
    };
    app.get('/v2/models/:name/ready', ready);
    app.get('/v2/models/:name/versions/:version/ready', ready);

    const infer = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
      try {
        let parsed: ReturnType<typeof parseInfer> | undefined;
        const { model: used, outputs } = await core.infer(
          'http',
          request.params.name,
          request.params.version,
          () => {
            parsed = parseInfer(request, connectionSignal(request.raw.socket));
            return parsed.call;
          },
          () => request.headers,
        );
        return sendInferResponse(reply, used, parsed!.id, outputs, parsed!.binaryOutputs);
      } catch (error) {
        const server = toServerError(error);
        if (server.kind === 'INTERNAL') request.log.error({ err: error, reqId: request.id, model: request.params.name }, 'inference failed');
        return sendError(reply, server);
      }
    };
    app.post('/v2/models/:name/infer', infer);
    app.post('/v2/models/:name/versions/:version/infer', infer);

    // The repository extension (Triton's): index, load, unload.
    app.post('/v2/repository/index', async (request, reply) => {
      const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? parseJson(request.body) : {};
      return reply.send(core.repository.index(body.ready === true));
    });
    for (const op of ['load', 'unload'] as const) {
      app.post(`/v2/repository/models/:name/${op}`, async (request: FastifyRequest<{ Params: Params }>, reply) => {
        try {
          const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? parseJson(request.body) : {};
          checkRepositoryParameters(op, body.parameters);
          const name = request.params.name;
          await coordination.repository(op, name, () => (op === 'load' ? core.repository.load(name) : core.repository.unload(name)));
          return reply.send({});
        } catch (error) {
          return sendError(reply, toServerError(error));
        }
      });
    }

    if (metrics) {
      app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await coordination.metrics(metrics.registry)));
    }
  };
}

function parseJson(body: Buffer): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalidArgument(`the request's JSON is malformed: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw invalidArgument('the request body must be a JSON object');
  return parsed;
}
