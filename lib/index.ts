// index.ts: the public API of ort-napi, nothing else.
export { InferenceSession } from './session.js';
export type {
  FeedsType,
  FetchesType,
  RunResult,
  ValueMetadata,
  ValueKind,
  ModelMetadata,
  ModelSignature,
  AnySignature,
  ValueSpec,
  SignatureFeeds,
  SignatureOutputs,
} from './session.js';
export { Tensor } from './tensor.js';
export { IoBinding } from './io-binding.js';
export type { OnnxValue, TypeInfo } from './values.js';
export type { TensorType, TensorData, TensorDataTypeMap, TensorLocation, AllocateOptions, TypedTensor } from './tensor.js';
export { OrtError, ReleasedError } from './errors.js';
export type { OrtErrorCode } from './errors.js';
export { env } from './env.js';
export type { Versions, InitOptions, Logger, LogSeverity } from './env.js';
export type { ExecutionProviderConfig, ExecutionProviderName, CpuProviderOptions, CudaProviderOptions, TensorRtProviderOptions, GenericProviderOptions } from './providers.js';
export type { SessionOptions, RunOptions, GraphOptimizationLevel, ExecutionMode, LogSeverityLevel } from './options.js';
export { SessionPool, PoolBusyError, POOL_CHANNEL } from './pool.js';
export type { PoolOptions, PoolRunOptions, PoolStats, PoolRunEvent, BatchingOptions } from './pool.js';
export { listSupportedBackends } from './backend.js';
export type { SupportedBackend } from './backend.js';

// onnxruntime-common's InferenceSession.create() finds ort-napi from now on.
import { registerOrtNapiBackend } from './backend.js';
registerOrtNapiBackend();
