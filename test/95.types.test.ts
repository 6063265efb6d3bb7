// 95.types: typed sessions. `npm test` type-checks this file (npm run typecheck) before running it:
// each @ts-expect-error must meet an error, and everything else must compile.
import { resolve } from 'node:path';
import { expectTypeOf, test, expect } from 'vitest';
import { addMul } from './support/models.js';
import { InferenceSession, Tensor, ort, type Ort } from './support/ort.js';

type AddMul = {
  inputs: { a: { type: 'float32'; dims: ['n', 3] }; b: 'float32' };
  outputs: { sum: 'float32'; product: { type: 'float32' } };
};

test('a typed session takes exactly its inputs and returns typed outputs', async () => {
  const session = await InferenceSession.create<AddMul>(addMul());
  const a = new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]);
  const b = new Tensor('float32', new Float32Array([1, 1, 1]), [1, 3]);

  const out = await session.run({ a, b });
  expectTypeOf(out.sum).toEqualTypeOf<Ort.Tensor<'float32'>>();
  expectTypeOf(out.sum.data).toEqualTypeOf<Float32Array>();
  expect(Array.from(out.sum.data)).toEqual([2, 3, 4]);

  const some = await session.run({ a, b }, ['product']);
  expectTypeOf(some).toEqualTypeOf<{ product: Ort.Tensor<'float32'> }>();
  expect(Array.from(some.product.data)).toEqual([1, 2, 3]);

  const sync = session.runSync({ a, b });
  expectTypeOf(sync).toEqualTypeOf<{ sum: Ort.Tensor<'float32'>; product: Ort.Tensor<'float32'> }>();

  if (Math.random() > 2) {
    // Never run: these lines exist to be type-checked.
    // @ts-expect-error a missing input
    await session.run({ a });
    // @ts-expect-error an input of the wrong element type
    await session.run({ a, b: new Tensor('int32', new Int32Array(3), [1, 3]) });
    // @ts-expect-error an input the model does not have
    await session.run({ a, b, c: a });
    // @ts-expect-error an output the model does not have
    await session.run({ a, b }, ['difference']);
    // @ts-expect-error outputs are typed: no such property
    out.difference;
  }
  await session.release();
});

test('an untyped session keeps onnxruntime-common’s loose typing', async () => {
  const session = await InferenceSession.create(addMul());
  expectTypeOf(session.run).parameter(0).toEqualTypeOf<{ readonly [x: string]: Ort.Tensor<Ort.TensorType> }>();
  const out = await session.run({ a: new Tensor(new Float32Array(3), [1, 3]), b: new Tensor(new Float32Array(3), [1, 3]) });
  expectTypeOf(out.anything).toEqualTypeOf<Ort.Tensor<Ort.TensorType>>();
  expect(out.sum.dims).toEqual([1, 3]);
});

test('a typed pool is typed the same way', async () => {
  const pool = await ort.SessionPool.create<AddMul>(addMul());
  const t = new Tensor('float32', new Float32Array(3), [1, 3]);
  const out = await pool.run({ a: t, b: t });
  expectTypeOf(out.product.data).toEqualTypeOf<Float32Array>();
  if (Math.random() > 2) {
    // @ts-expect-error a missing input
    await pool.run({ a: t });
  }
  await pool.close();
});

test('TypeScript written for onnxruntime-node, namespaced types included, compiles and runs unchanged', async () => {
  // test/types/onnxruntime-node-style.ts is type-checked by npm run typecheck; here it runs.
  const { main } = await import('./types/onnxruntime-node-style.js');
  const y = await main(resolve(__dirname, 'fixtures', 'linear.onnx'));
  expect(y).toEqual([4.5, 4.5, 10.5, 10.5]);
});
