// 65.leak: many runs, sessions and failures leave the process no bigger: outputs and inputs are freed.
import { describe, expect, test } from 'vitest';
import { addMul, identity } from './support/models.js';
import { InferenceSession, Tensor } from './support/ort.js';

async function settle(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    globalThis.gc!();
    await new Promise((r) => setImmediate(r)); // external-memory finalizers run on the loop
  }
  return process.memoryUsage().rss;
}

describe('leaks', () => {
  test('20,000 runs with 64 KiB outputs do not grow RSS past the arena', async () => {
    const session = await InferenceSession.create(identity('float32', ['n']));
    const x = new Tensor('float32', new Float32Array(16384), [16384]);
    const round = () => Promise.all(Array.from({ length: 2000 }, () => session.run({ x })));
    // The first rounds grow ONNX Runtime's arena to its steady peak (the outputs alive at once, and
    // those the collector has not reached yet); it stays there.
    for (let i = 0; i < 4; i++) await round();
    const rss = [await settle()];
    for (let i = 0; i < 9; i++) {
      await round();
      rss.push(await settle());
    }
    // 18,000 outputs of 64 KiB are 1.1 GiB: a leak of even a small part of them grows RSS at every
    // round. The arena can still take one step up, when a round happens to hold more outputs at
    // once than any before (the collector came later): in CI, once, 27 MiB. So the largest one-round
    // step is left out, and the rest must stay under 2 MiB a round: a leak of 2% of the outputs
    // (2.6 MiB a round) fails.
    const steps = rss.slice(1).map((v, i) => (v - rss[i]) / 2 ** 20);
    const growth = steps.reduce((a, b) => a + b, 0) - Math.max(...steps);
    expect(growth, `RSS steps by round (MiB): ${steps.map((s) => s.toFixed(1)).join(' ')}`).toBeLessThan(16);
  });

  test('failed runs and released sessions free what they held', async () => {
    // Outputs of 1.2 MB each: a leaked output or session would cost far more than the allocator's drift.
    const feeds = { a: new Tensor('float32', new Float32Array(300000), [100000, 3]), b: new Tensor('float32', new Float32Array(300000), [100000, 3]) };
    const cycle = async () => {
      const s = await InferenceSession.create(addMul());
      await s.run(feeds);
      await s.run({ a: feeds.a } as never).catch(() => undefined);
      await s.release();
    };
    for (let i = 0; i < 40; i++) await cycle();
    const rss = [await settle()];
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 25; i++) await cycle();
      rss.push(await settle());
    }
    // Keeping one output a cycle (tried) grows RSS by 60 MiB a round, every round. As in the test
    // above, the largest one-round step is left out: the allocator can take a step up (an arena of
    // another thread that loads sessions). Measured whole, 200 cycles grew 3.5-10 MiB here (largest
    // steps 1.6-4.8), and once 66 MiB in CI's fresh-clone run, beside busy test files, against the
    // bound of 64 this test had then. The rest must stay under 48 MiB: a leak of a sixth of that
    // one output's cost fails.
    const steps = rss.slice(1).map((v, i) => (v - rss[i]) / 2 ** 20);
    const growth = steps.reduce((a, b) => a + b, 0) - Math.max(...steps);
    expect(growth, `RSS steps by round of 25 cycles (MiB): ${steps.map((s) => s.toFixed(1)).join(' ')}`).toBeLessThan(48);
  });
});
