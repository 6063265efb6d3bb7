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

// The rest of onnxruntime-common's exports, as onnxruntime-node re-exports them: code that imports
// them from onnxruntime-node finds them here.
export { registerBackend, TRACE, TRACE_FUNC_BEGIN, TRACE_FUNC_END, TRACE_EVENT_BEGIN, TRACE_EVENT_END } from 'onnxruntime-common';
export type {
  Backend,
  SessionHandler,
  InferenceSessionHandler,
  Env,
  ConversionUtils,
  ImageFormat,
  ImageTensorLayout,
  CpuPinnedConstructorParameters,
  TextureConstructorParameters,
  GpuBufferConstructorParameters,
  MLTensorConstructorParameters,
  OptionsFormat,
  OptionsTensorFormat,
  OptionsTensorDataType,
  OptionsTensorLayout,
  OptionsDimensions,
  OptionResizedDimensions,
  OptionsNormalizationParameters,
  TensorFromImageDataOptions,
  TensorFromImageElementOptions,
  TensorFromUrlOptions,
  TensorFromImageBitmapOptions,
  TensorFromTextureOptions,
  TensorFromGpuBufferOptions,
  TensorFromMLTensorOptions,
  TensorToDataUrlOptions,
  TensorToImageDataOptions,
  TensorFactory,
  TensorConstructor,
  OnnxModelOptions,
  OnnxValueDataLocation,
  NonTensorType,
  FileBlob,
  FileData,
  FileType,
  FileUrlOrPath,
  ExternalDataFileDescription,
  ExternalDataFileType,
  InferenceSessionFactory,
} from 'onnxruntime-common';
export type { ImageDataLike, TensorFromImageOptions, TensorToImageOptions } from './tensor.js';

// onnxruntime-common's InferenceSession.create() finds ort-napi from now on.
import { registerOrtNapiBackend } from './backend.js';
registerOrtNapiBackend();
