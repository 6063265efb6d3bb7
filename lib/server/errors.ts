// errors.ts: the server's error kinds, and how each front end reports them (HTTP status, gRPC code).
import { status as GrpcStatus } from '@grpc/grpc-js';
import { OrtError, PoolBusyError, ReleasedError } from '../index.js';

/**
 * One table for both front ends. The HTTP statuses follow google.rpc.Code's canonical mapping of the
 * gRPC codes (googleapis/google/rpc/code.proto), so a failure reads the same over either protocol.
 */
const KINDS = {
  INVALID_ARGUMENT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  // A request body in a content coding the server does not decode (HTTP only: grpc-js itself
  // answers an unknown grpc-encoding with UNIMPLEMENTED).
  UNSUPPORTED_ENCODING: { http: 415, grpc: GrpcStatus.UNIMPLEMENTED },
  RESOURCE_EXHAUSTED: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  CANCELLED: { http: 499, grpc: GrpcStatus.CANCELLED },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
  UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  DEADLINE_EXCEEDED: { http: 504, grpc: GrpcStatus.DEADLINE_EXCEEDED },
} as const;

export type ErrorKind = keyof typeof KINDS;

/** An error a client caused or must know about, with the kind that picks its status. */
export class ServerError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ServerError';
    this.kind = kind;
  }
  get httpStatus(): number {
    return KINDS[this.kind].http;
  }
  get grpcCode(): number {
    return KINDS[this.kind].grpc;
  }
}

export const invalidArgument = (message: string) => new ServerError('INVALID_ARGUMENT', message);

/** Whatever a request's processing threw, as a ServerError (its message kept). */
export function toServerError(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  const e = error as { name?: string; message?: string } | undefined;
  const message = e?.message ?? String(error);
  if (error instanceof PoolBusyError) return new ServerError('RESOURCE_EXHAUSTED', message, { cause: error });
  if (e?.name === 'TimeoutError') return new ServerError('DEADLINE_EXCEEDED', message, { cause: error });
  if (e?.name === 'AbortError') return new ServerError('CANCELLED', message, { cause: error });
  if (error instanceof ReleasedError) return new ServerError('UNAVAILABLE', `the model is being unloaded or the server is shutting down (${message})`, { cause: error });
  // The session's own checks of the feeds (names, types, dims) throw TypeError and RangeError.
  if (error instanceof TypeError || error instanceof RangeError) return new ServerError('INVALID_ARGUMENT', message, { cause: error });
  if (error instanceof OrtError && error.code === 'INVALID_ARGUMENT') return new ServerError('INVALID_ARGUMENT', message, { cause: error });
  return new ServerError('INTERNAL', message, { cause: error });
}
