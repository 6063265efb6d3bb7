// onnxruntime-node-style.ts: TypeScript written against onnxruntime-node's API (onnxruntime-common's
// types, namespaced names included), with only the import changed. `npm test` type-checks it
// (npm run typecheck); test/95.types.test.ts also runs it. A change that breaks such code fails there.
import * as ort from 'ort-napi';
import { InferenceSession, Tensor, type TypedTensor } from 'ort-napi';

const sessionOptions: InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
  enableCpuMemArena: true,
  logSeverityLevel: 3,
};
const runOptions: ort.InferenceSession.RunOptions = { tag: 'run', logSeverityLevel: 3 };

function toFloat(values: number[]): TypedTensor<'float32'> {
  return new ort.Tensor('float32', Float32Array.from(values), [values.length / 3, 3]);
}

function describeTensor(t: ort.Tensor): string {
  const type: ort.Tensor.Type = t.type;
  const data: ort.Tensor.DataType = t.data;
  const location: Tensor.DataLocation = t.location;
  return `${type}[${t.dims.join('x')}] ${data.length} in ${location}`;
}

export async function main(modelPath: string): Promise<number[]> {
  const session: ort.InferenceSession = await ort.InferenceSession.create(modelPath, sessionOptions);
  const feeds: InferenceSession.FeedsType = { x: toFloat([1, 2, 3, 4, 5, 6]) };
  const fetches: InferenceSession.FetchesType = ['y'];
  const results: InferenceSession.ReturnType = await session.run(feeds, fetches, runOptions);
  const y: ort.Tensor = results.y;
  const metadata: readonly InferenceSession.ValueMetadata[] = session.inputMetadata;
  if (metadata[0].name !== session.inputNames[0]) throw new Error(describeTensor(y));
  await session.release();
  return Array.from(y.data as Float32Array);
}
