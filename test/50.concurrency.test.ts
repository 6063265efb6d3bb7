// 50.concurrency: runs execute off the main thread, many at once on one session, each getting its own answer.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import { matmul, random, slowSession } from './support/models.js';
import { InferenceSession, Tensor } from './support/ort.js';

describe('concurrency', () => {
  test('200 concurrent runs on one session each get the result for their own input', async () => {
    const session = await InferenceSession.create(matmul(16, 4));
    const w = random(64, 99);
    const inputs = Array.from({ length: 200 }, (_, i) => random(8 * 16, i + 1));
    const results = await Promise.all(
      inputs.map((x) => session.run({ x: new Tensor('float32', x, [8, 16]), w: new Tensor('float32', w, [16, 4]) })),
    );
    results.forEach(({ y }, r) => {
      const x = inputs[r];
      const got = y.data as Float32Array;
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 4; j++) {
          let sum = 0;
          for (let p = 0; p < 16; p++) sum += x[i * 16 + p] * w[p * 4 + j];
          expect(got[i * 4 + j]).toBeCloseTo(sum, 4);
        }
      }
    });
    await session.release();
  });

  test('the event loop keeps turning while a long run computes', async () => {
    const { session, input, runMs } = await slowSession(200);
    let worstGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 1);
    const start = performance.now();
    const { y } = await session.run({ x: input });
    const asyncMs = performance.now() - start;
    clearInterval(timer);
    expect(y.dims).toEqual(input.dims);
    expect(asyncMs).toBeGreaterThanOrEqual(runMs * 0.5);
    // A blocked loop would show one gap as long as the run; a free one shows timer-sized gaps.
    expect(worstGap).toBeLessThan(Math.min(50, asyncMs / 4));
    await session.release();
  });

  test('runSync blocks the loop, as documented (the contrast that proves the test above)', async () => {
    const { session, input, runMs } = await slowSession(100);
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    await new Promise((r) => setTimeout(r, 5));
    session.runSync({ x: input });
    await new Promise((r) => setTimeout(r, 5));
    histogram.disable();
    expect(histogram.max / 1e6).toBeGreaterThan(runMs * 0.5);
    await session.release();
  });
});
