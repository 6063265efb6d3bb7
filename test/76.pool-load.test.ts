// 76.pool-load: the pool under load: 100,000 runs without growth, and one pool per worker thread.
import { Worker } from 'node:worker_threads';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildModel } from './support/onnx.js';
import { identity } from './support/models.js';
import { ort, Tensor } from './support/ort.js';

const neg = () =>
  buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['n', 2] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['n', 2] }],
    nodes: [{ op: 'Neg', inputs: ['x'], outputs: ['y'] }],
  });

async function settle(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    globalThis.gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().rss;
}

describe('pool under load', () => {
  test('130,000 runs through a batched pool keep RSS flat', async () => {
    const pool = await ort.SessionPool.create(identity('float32', ['n', 256]), { batching: { maxBatchSize: 32, maxDelayMs: 1 }, maxQueue: 4096 });
    const x = new Tensor('float32', new Float32Array(256).fill(3), [1, 256]);
    const wave = async () => {
      const results = await Promise.all(Array.from({ length: 1000 }, () => pool.run({ x })));
      expect(results[999].y.data[255]).toBe(3);
    };
    // Warm: the arena, the collector and malloc's free lists reach their steady state (each batched
    // caller's result is a copy of its own since hardening, so the heap takes longer to settle; and
    // the pool's fast path allocates little per request, so the collector runs less often).
    for (let i = 0; i < 60; i++) await wave();
    const before = await settle();
    for (let i = 0; i < 70; i++) await wave();
    const after = await settle();
    expect(pool.stats().completed).toBe(130_000);
    // 70,000 results of 1 KiB each (70 MB) pass through: a leak of any of them would show.
    const growth = (after - before) / 2 ** 20;
    console.log(`[76.pool-load] RSS growth over 70,000 batched runs: ${growth.toFixed(1)} MiB`);
    expect(growth).toBeLessThan(32);
    await pool.close();
  });

  test('worker threads each run their own pool', async () => {
    const workers = [0, 1, 2].map(
      () => new Worker(resolve(__dirname, 'fixtures', 'pool-worker.cjs'), { workerData: { model: neg() } }),
    );
    const answers = await Promise.all(
      workers.map((w) => new Promise<unknown>((res, rej) => (w.once('message', res), w.once('error', rej)))),
    );
    await Promise.all(workers.map((w) => w.terminate()));
    for (const answer of answers) {
      expect(answer).toEqual(Array.from({ length: 50 }, (_, i) => [-i, i]));
    }
  });
});
