import { test, expect } from 'vitest';
import { InferenceSession, Tensor } from '/work/main/test/support/ort.js';
import { buildModel } from '/work/main/test/support/onnx.js';
test('smoke', async () => {
  const model = buildModel({ inputs: [{ name: 'a', type: 'float32', dims: ['n', 3] }, { name: 'b', type: 'float32', dims: ['n', 3] }], outputs: [{ name: 'c', type: 'float32', dims: ['n', 3] }], nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['c'] }], metadata: { k: 'v' }, producerName: 'me' });
  const s = await InferenceSession.create(model);
  console.log(s.inputMetadata, s.outputMetadata, s.modelMetadata);
  const r = await s.run({ a: new Tensor('float32', new Float32Array([1,2,3,4,5,6]), [2,3]), b: new Tensor('float32', new Float32Array([1,1,1,1,1,1]), [2,3]) });
  console.log(r.c);
  expect(Array.from(r.c.data as Float32Array)).toEqual([2,3,4,5,6,7]);
  await s.release();
});
