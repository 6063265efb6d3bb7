// 60.lifetime: release waits for runs in flight, refuses new work, and never frees memory still in use.
import { describe, expect, test } from 'vitest';
import { addMul, identity, random, slowChain } from './support/models.js';
import { InferenceSession, ReleasedError, Tensor, type Ort } from './support/ort.js';

/** --expose-gc is set in vitest.config.mts; without it these tests would prove nothing. */
function gc(): void {
  if (!globalThis.gc) throw new Error('run with --expose-gc');
  globalThis.gc();
}

const feeds = () => ({ a: new Tensor('float32', new Float32Array([1, 2, 3]), [1, 3]), b: new Tensor('float32', new Float32Array([1, 1, 1]), [1, 3]) });

describe('lifetime', () => {
  test('outputs stay readable after the session is released and collected', async () => {
    let session: Ort.InferenceSession | undefined = await InferenceSession.create(addMul());
    const { sum } = await session.run(feeds());
    await session.release();
    session = undefined;
    gc();
    expect(Array.from(sum.data as Float32Array)).toEqual([2, 3, 4]);
  });

  test('release waits for runs in flight; they finish with correct results', async () => {
    const n = 256;
    const session = await InferenceSession.create(slowChain(n, 8), { intraOpNumThreads: 1 });
    const x = random(n * n, 5);
    const runs = Array.from({ length: 4 }, () => session.run({ x: new Tensor('float32', x, [n, n]) }));
    let released = false;
    const release = session.release().then(() => (released = true));
    expect(released).toBe(false);
    const results = await Promise.all(runs);
    for (const { y } of results) expect(y.data).toEqual(x); // identity weights
    await release;
    expect(released).toBe(true);
  });

  test('after release, new runs are refused with ReleasedError, and release is idempotent', async () => {
    const session = await InferenceSession.create(addMul());
    const first = session.release();
    expect(session.release()).toBe(first);
    await first;
    const error = await session.run(feeds()).catch((e) => e);
    expect(error).toBeInstanceOf(ReleasedError);
    expect(error.code).toBe('ERR_RELEASED');
    expect(error.message).toBe('this InferenceSession was released and cannot be used');
    expect(() => session.runSync(feeds())).toThrow(ReleasedError);
  });

  test('await using releases the session at the end of the block', async () => {
    let escaped: Ort.InferenceSession;
    {
      await using session = await InferenceSession.create(identity('int32', ['n']));
      escaped = session;
      const { y } = await session.run({ x: new Tensor('int32', new Int32Array([4]), [1]) });
      expect(Array.from(y.data as Int32Array)).toEqual([4]);
    }
    await expect(escaped.run({ x: new Tensor('int32', new Int32Array([4]), [1]) })).rejects.toThrow(ReleasedError);
  });

  test('sessions dropped without release are collected without harm', async () => {
    for (let i = 0; i < 20; i++) {
      const s = await InferenceSession.create(addMul());
      await s.run(feeds());
    }
    gc();
    const s = await InferenceSession.create(addMul());
    expect(Array.from((await s.run(feeds())).sum.data as Float32Array)).toEqual([2, 3, 4]);
  });
});
