// 42.acceptance: what run() accepts is what ONNX Runtime itself accepts, checked against ONNX Runtime
// called directly (the addon's raw run, no validation of ours in front): clients written for
// onnxruntime-node (silero VAD's scalar `sr` fed as [1], fastembed's extra `token_type_ids`) run
// unchanged, and what ONNX Runtime refuses is refused first, with our clearer message.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildModel, type Dim } from './support/onnx.js';
import { runSyncDescribed, tensorAt } from './support/native-run.js';
import { InferenceSession, Tensor } from './support/ort.js';

const require = createRequire(import.meta.url);
const { native, loadOrt } = require('../dist/binding.js') as typeof import('../lib/binding.js');

const identity = (dims: Dim[]) =>
  buildModel({
    inputs: [{ name: 'x', type: 'float32', dims }],
    outputs: [{ name: 'y', type: 'float32', dims: undefined }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  });

/** ONNX Runtime's own verdict on feeding `given` to an input declared `declared`: undefined if it runs. */
async function ortVerdict(declared: Dim[], given: number[]): Promise<string | undefined> {
  loadOrt();
  const session = await native.createSession(identity(declared), {} as never);
  try {
    const count = given.reduce((a, b) => a * b, 1);
    runSyncDescribed(session, [1, 1, ...tensorAt(0, 1, given), 0, -1], [new Float32Array(count)]);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    session.release();
  }
}

describe('shapes: accepted exactly where ONNX Runtime accepts them', () => {
  test.each<[Dim[], number[]]>([
    [[], [1]], // a declared scalar fed as [1]: silero VAD's sr
    [[], [1, 1]],
    [[], [2]],
    [[], []],
    [['n', 3], [5, 3]],
    [[3], [3]],
    [[1], []], // refused: rank 0 for rank 1
    [[3], [1, 3]], // refused: rank
    [[2, 3], [3, 2]], // refused: fixed dims
    [['n', 3], [5, 4]],
    [['n'], [2, 2]],
  ])('declared %j, given %j', async (declared, given) => {
    const ort = await ortVerdict(declared, given);
    const session = await InferenceSession.create(identity(declared));
    const count = given.reduce((a, b) => a * b, 1);
    const ours = await session.run({ x: new Tensor('float32', new Float32Array(count).fill(7), given) }).then(
      (out) => {
        expect(out.y.dims).toEqual(given);
        return undefined;
      },
      (error: Error) => error,
    );
    if (ort === undefined) expect(ours).toBeUndefined();
    else {
      expect(ours, `ONNX Runtime refuses it (${ort})`).toBeInstanceOf(RangeError);
      expect((ours as Error).message).toMatch(/^input 'x' has /);
    }
    await session.release();
  });
});

describe('extra feeds', () => {
  const warnings: Error[] = [];
  const listen = (warning: Error) => warnings.push(warning);
  beforeAll(() => process.on('warning', listen));
  afterAll(() => process.off('warning', listen));

  test('a feed the model does not take is ignored, with one warning per session, as onnxruntime-common does', async () => {
    const session = await InferenceSession.create(identity(['n']));
    const x = new Tensor('float32', new Float32Array([1, 2]), [2]);
    const extra = new Tensor('int64', new BigInt64Array([0n, 0n]), [1, 2]);
    for (let i = 0; i < 3; i++) {
      const { y } = await session.run({ x, token_type_ids: extra } as never);
      expect(Array.from(y.data as Float32Array)).toEqual([1, 2]);
    }
    expect(Array.from(session.runSync({ x, token_type_ids: extra } as never).y.data as Float32Array)).toEqual([1, 2]);
    await new Promise((r) => setImmediate(r));
    const ours = warnings.filter((w) => (w as Error & { code?: string }).code === 'ORT_NAPI_EXTRA_FEED');
    expect(ours).toHaveLength(1);
    expect(ours[0].message).toBe(
      "feeds has 'token_type_ids', which is not an input of this model (inputs: x): it is ignored, as onnxruntime-node ignores it. (Warned once per session.)",
    );
    // A feed object of extra names only still misses the model's input.
    await expect(session.run({ token_type_ids: extra } as never)).rejects.toThrow("feeds is missing input 'x'");
    await session.release();
  });
});
