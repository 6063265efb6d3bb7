// server/index.ts: createServer(): an Open Inference Protocol (KServe v2) server over HTTP (fastify)
// and gRPC (grpc-js) for a model repository or models given in code. `import from 'ort-napi/server'`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { isServeWorker, workerCoordination, type Coordination } from './cluster.js';
import { InferenceCore } from './core.js';
import { bindGrpc, createGrpcServer, shutdownGrpc } from './grpc.js';
import { v2Routes } from './http.js';
import { Metrics } from './metrics.js';
import { Repository, type ModelSource } from './repository.js';

export type { ModelConfig, ModelSource, ModelState, TensorInfo } from './repository.js';
export { ServerError } from './errors.js';
export type { ErrorKind } from './errors.js';
export { PROTO_PATH, PROTO_OPTIONS } from './grpc.js';
export { TIMEOUT_HEADER, EXTENSIONS } from './http.js';

export interface ServerOptions {
  /** A model repository directory: `<name>/<version>/model.onnx`, optionally `<name>/config.json`. */
  repository?: string;
  /** Models given in code, by name: a path, model bytes, or `{ model, version?, config? }`. */
  models?: Record<string, string | Uint8Array | ModelSource>;
  /** The REST front end (default: port 8000 on 127.0.0.1); false: none (the fastify instance still exists, for inject()). */
  http?: { port?: number; host?: string; bodyLimit?: number } | false;
  /** The gRPC front end; off unless given (port 8001 if given without one). */
  grpc?: { port?: number; host?: string; maxMessageBytes?: number } | false;
  /** GET /metrics in Prometheus' text format (default true). */
  metrics?: boolean;
  /** Structured (pino) logs: true for info level to stdout, or fastify's logger options (`{ level, stream }`). Default off. */
  logger?: boolean | { level?: string; stream?: NodeJS.WritableStream };
  /** How long stop() keeps answering with readiness false before it stops accepting (for load balancers to notice). */
  drainDelayMs?: number;
  /** How long stop() waits for accepted requests and open connections before it closes them (default 30 s). */
  drainTimeoutMs?: number;
}

export interface ServerAddresses {
  /** `http://host:port`, when the REST front end listens. */
  http?: string;
  /** `host:port`, when the gRPC front end listens. */
  grpc?: string;
}

export interface V2Server {
  /** The fastify instance: add your own routes before start(); `inject()` works without a socket. */
  readonly http: FastifyInstance;
  /** The server's own prom-client registry (not the global one). */
  readonly metrics: Registry;
  /** Started and not draining: what /v2/health/ready and ServerReady report. */
  readonly ready: boolean;
  /** Where it listens, once started. */
  readonly addresses: ServerAddresses;
  readonly log: FastifyBaseLogger;
  /** Loads the models (all must load), then listens. */
  start(): Promise<ServerAddresses>;
  /** Readiness false, stops accepting, lets accepted requests finish, releases the models. Idempotent. */
  stop(): Promise<void>;
  /** The repository extension, in code. */
  loadModel(name: string): Promise<void>;
  unloadModel(name: string): Promise<void>;
}

const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

function checkPort(what: string, port: unknown): number {
  if (!Number.isSafeInteger(port) || (port as number) < 0 || (port as number) > 65535) throw new TypeError(`${what} must be an integer from 0 to 65535 (0: any free port); received ${JSON.stringify(port)}`);
  return port as number;
}

/** An Open Inference Protocol server; nothing loads or listens until start(). */
export function createServer(options: ServerOptions): V2Server {
  if (typeof options !== 'object' || options === null) throw new TypeError('createServer options must be an object');
  if (options.repository === undefined && options.models === undefined) throw new TypeError('createServer needs a model repository (`repository`) or `models`');
  const httpOptions = options.http === false ? undefined : { port: checkPort('http.port', options.http?.port ?? 8000), host: options.http?.host ?? '127.0.0.1', bodyLimit: options.http?.bodyLimit ?? 64 * 1024 * 1024 };
  const grpcOptions = options.grpc === undefined || options.grpc === false ? undefined : { port: checkPort('grpc.port', options.grpc.port ?? 8001), host: options.grpc.host ?? '127.0.0.1', maxMessageBytes: options.grpc.maxMessageBytes ?? 64 * 1024 * 1024 };

  const app = Fastify({
    logger: options.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }), // a log line per request costs more than a small model's run
    // No child logger per request (pino's child() costs about 2 us): the few lines a request logs,
    // its failures, carry its reqId themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: httpOptions?.bodyLimit ?? 64 * 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    keepAliveTimeout: 75_000,
  });
  const metrics = options.metrics === false ? undefined : new Metrics();
  const repository = new Repository({ repository: options.repository, models: options.models as Record<string, string | ModelSource> }, metrics, (level, fields, message) => app.log[level](fields, message));
  const core = new InferenceCore(repository, metrics);
  let started = false;
  let grpcServer: GrpcServer | undefined;
  let stopping: Promise<void> | undefined;
  const addresses: ServerAddresses = {};
  // Alone, a server does these itself; as a worker of `ort-napi serve --workers N` (cluster.ts),
  // through the primary, for every worker.
  const coordination: Coordination = isServeWorker()
    ? workerCoordination(metrics?.registry, (op, name) => (op === 'load' ? repository.load(name) : repository.unload(name)), (selection) => repository.statsOf(selection))
    : { metrics: (registry) => registry.metrics(), statistics: async (selection) => repository.statsOf(selection), repository: (_op, _name, local) => local(), catchUp: async () => [] };
  const context = { core, metrics, coordination, statistics: coordination.statistics, repository: coordination.repository, version: VERSION, ready: () => started && !core.draining, log: app.log };

  app.register(v2Routes(context));
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).type('application/json').send(JSON.stringify({ error: `no route ${request.method} ${request.url.split('?')[0]}` }));
  });

  const server: V2Server = {
    http: app,
    metrics: metrics?.registry ?? new Registry(), // metrics off: an empty registry, nothing subscribed
    get ready() {
      return context.ready();
    },
    addresses,
    log: app.log,
    async start() {
      if (started || stopping) throw new Error(stopping ? 'the server was stopped; create a new one' : 'the server is already started');
      try {
        await repository.loadAll();
        for (const failure of await coordination.catchUp()) app.log.warn({ failure }, 'a repository change the other workers made failed here');
        await app.ready();
        if (httpOptions) {
          await app.listen({ port: httpOptions.port, host: httpOptions.host });
          const address = app.server.address();
          if (address && typeof address === 'object') addresses.http = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
        }
        if (grpcOptions) {
          grpcServer = createGrpcServer(context, { maxMessageBytes: grpcOptions.maxMessageBytes });
          const port = await bindGrpc(grpcServer, grpcOptions.host, grpcOptions.port);
          addresses.grpc = `${grpcOptions.host.includes(':') ? `[${grpcOptions.host}]` : grpcOptions.host}:${port}`;
        }
      } catch (error) {
        await server.stop();
        throw error;
      }
      started = true;
      app.log.info({ addresses, models: repository.index() }, 'serving');
      return { ...addresses };
    },
    stop() {
      stopping ??= (async () => {
        core.draining = true;
        // From now on each answer closes its connection (a kept-alive socket would hold the close
        // open): a listener that costs nothing before a drain, where an onSend hook costs every answer.
        app.server.prependListener('request', (_request, response) => {
          response.shouldKeepAlive = false;
        });
        app.log.info('draining: readiness is false; finishing the requests accepted');
        if (started && options.drainDelayMs) await new Promise((resolve) => setTimeout(resolve, options.drainDelayMs));
        // Graceful first; past drainTimeoutMs, whatever still holds a connection open is cut.
        const graceful = Promise.all([app.close(), grpcServer ? shutdownGrpc(grpcServer) : undefined]);
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([graceful.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, options.drainTimeoutMs ?? 30_000, true)))]);
        clearTimeout(timer);
        if (timedOut) {
          app.log.warn({ drainTimeoutMs: options.drainTimeoutMs ?? 30_000 }, 'drain timed out: closing the connections still open');
          grpcServer?.forceShutdown();
          app.server.closeAllConnections();
          await graceful;
        }
        await repository.close();
        metrics?.close();
        app.log.info('stopped');
      })();
      return stopping;
    },
    loadModel: (name) => coordination.repository('load', name, () => repository.load(name)),
    unloadModel: (name) => coordination.repository('unload', name, () => repository.unload(name)),
  };
  return server;
}
