// onnxruntime-node-drop-in.ts: TypeScript written against onnxruntime-node 1.30's API exactly as its
// users write it: `import ... from 'onnxruntime-node'`, unchanged. test/tsconfig.json maps that
// import to this package (paths), so `npm run typecheck` checks it against ort-napi's types, and
// test/48.types.test.ts runs it with the import resolved to ort-napi, and
// test/48.types-onnxruntime-node.test.ts with onnxruntime-node itself: both get the same results. A change that breaks code
// written for onnxruntime-node fails there.
import * as ort from 'onnxruntime-node';
import { InferenceSession, Tensor, env, type TypedTensor } from 'onnxruntime-node';

type Summary = { names: string[]; outputs: Record<string, number[]>; types: string[]; cpuBackend: boolean };

const sessionOptions: InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  enableCpuMemArena: true,
  enableMemPattern: true,
  enableProfiling: false,
  logId: 'drop-in',
  logSeverityLevel: 3,
  logVerbosityLevel: 0,
  extra: { session: { use_ort_model_bytes_directly: '1' } },
  preferredOutputLocation: 'cpu',
};
const providerObject: ort.InferenceSession.SessionOptions = { executionProviders: [{ name: 'cpu', useArena: true }] };

function feedsFor(values: number[]): ort.InferenceSession.OnnxValueMapType {
  const x: TypedTensor<'float32'> = new Tensor('float32', Float32Array.from(values), [values.length / 3, 3]);
  return { x };
}

function describeTensor(t: ort.Tensor): string {
  const type: ort.Tensor.Type = t.type;
  const data: ort.Tensor.DataType = t.data;
  const location: ort.Tensor.DataLocation = t.location;
  const dims: readonly number[] = t.dims;
  return `${type}[${dims.join('x')}] ${data.length} in ${location} (${t.size})`;
}

function asNumbers(value: ort.OnnxValue): number[] {
  if (!(value instanceof ort.Tensor)) throw new Error('not a tensor');
  return Array.from(value.data as Float32Array);
}

export async function main(modelPath: string, modelBytes: Uint8Array): Promise<Summary> {
  env.logLevel = 'warning';
  env.wasm.numThreads = 1;
  env.trace = false;
  const common: string = env.versions.common;
  const backends = ort.listSupportedBackends().map((b) => b.name);

  const fromPath: InferenceSession = await InferenceSession.create(modelPath, sessionOptions);
  const fromBytes = await ort.InferenceSession.create(modelBytes, providerObject);
  const buffer = new ArrayBuffer(modelBytes.byteLength + 8);
  new Uint8Array(buffer).set(modelBytes, 8);
  const fromBuffer = await ort.InferenceSession.create(buffer, 8, modelBytes.byteLength, { logSeverityLevel: 3 });

  const runOptions: InferenceSession.RunOptions = { tag: 'drop-in', logSeverityLevel: 3, logVerbosityLevel: 0, terminate: false };
  const fetches: InferenceSession.FetchesType = ['y'];
  const all: InferenceSession.ReturnType = await fromPath.run(feedsFor([1, 2, 3, 4, 5, 6]));
  const named: InferenceSession.OnnxValueMapType = await fromBytes.run(feedsFor([1, 1, 1]), fetches, runOptions);
  const preallocated = new Tensor('float32', new Float32Array(2), [1, 2]);
  const into = await fromBuffer.run(feedsFor([0, 0, 0]), { y: preallocated }, runOptions);
  const nulls: InferenceSession.NullableOnnxValueMapType = { y: null };
  const allocated = await fromBuffer.run(feedsFor([2, 2, 2]), nulls);

  const metadata: readonly InferenceSession.ValueMetadata[] = fromPath.inputMetadata;
  const first = metadata[0];
  const shape = first.isTensor ? first.shape : [];
  const y: ort.Tensor = all.y;
  const described = describeTensor(y);
  const reshaped = y.reshape([4]);
  const data = await reshaped.getData();
  fromPath.startProfiling();
  fromPath.endProfiling();

  // Tensors of each kind, as onnxruntime-common's constructor overloads type them.
  const int64: TypedTensor<'int64'> = new Tensor('int64', [1n, 2n]);
  const bool: TypedTensor<'bool'> = new Tensor('bool', [true, false]);
  const text: TypedTensor<'string'> = new Tensor('string', ['a', 'b']);
  const inferred: TypedTensor<'float32'> = new Tensor(new Float32Array(3), [1, 3]);
  const pixels = new Tensor(new Uint8ClampedArray([1, 2, 3, 4]));
  const pinned = Tensor.fromPinnedBuffer('float32', new Float32Array(2), [2]);
  pinned.dispose();
  const imageOptions: ort.TensorFromImageDataOptions = { tensorFormat: 'RGB', norm: { mean: 255, bias: 0 } };
  const fromImage: (url: string, options?: ort.TensorFromImageDataOptions) => Promise<ort.Tensor> = (url, options) => Tensor.fromImage(url, options);

  for (const s of [fromPath, fromBytes, fromBuffer]) await s.release();
  return {
    names: [...fromPath.inputNames, ...fromPath.outputNames, String(shape.length), described, common ? 'common' : ''],
    outputs: { all: asNumbers(all.y), named: asNumbers(named.y), into: asNumbers(into.y), allocated: asNumbers(allocated.y), reshaped: Array.from(data as Float32Array) },
    types: [int64.type, bool.type, text.type, inferred.type, pixels.type, pinned.location, typeof fromImage, imageOptions.tensorFormat ?? ''],
    cpuBackend: backends.includes('cpu'),
  };
}
