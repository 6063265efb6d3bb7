// errors.ts: the errors ort-napi throws: OrtError for ONNX Runtime's own failures, ReleasedError for use after release.

/** ONNX Runtime's error codes (OrtErrorCode), by ONNX Runtime's own names. */
export type OrtErrorCode =
  | 'FAIL'
  | 'INVALID_ARGUMENT'
  | 'NO_SUCHFILE'
  | 'NO_MODEL'
  | 'ENGINE_ERROR'
  | 'RUNTIME_EXCEPTION'
  | 'INVALID_PROTOBUF'
  | 'MODEL_LOADED'
  | 'NOT_IMPLEMENTED'
  | 'INVALID_GRAPH'
  | 'EP_FAIL'
  | 'MODEL_LOAD_CANCELED'
  | 'MODEL_REQUIRES_COMPILATION'
  | 'NOT_FOUND'
  | 'DEVICE_RESET';

/**
 * A failure reported by ONNX Runtime; `message` is ONNX Runtime's own, plus what a model's first bytes
 * were when it could not parse them. A model path that names no readable, non-empty file is refused
 * before ONNX Runtime sees it, with the code ONNX Runtime gives (NO_SUCHFILE for a missing file) and
 * the file system's error as `cause`.
 */
export class OrtError extends Error {
  readonly code: OrtErrorCode;
  constructor(message: string, code: OrtErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OrtError';
    this.code = code;
  }
}

/** Thrown (or rejected with) when an object is used after `release()`. */
export class ReleasedError extends Error {
  readonly code = 'ERR_RELEASED';
  constructor(what: string) {
    super(`${what} was released and cannot be used`);
    this.name = 'ReleasedError';
  }
}
