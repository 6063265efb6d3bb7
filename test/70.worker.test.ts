// 70.worker: sessions inside worker_threads, Workers terminated mid-run, processes leaving mid-run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { identity, random, slowChain } from './support/models.js';
import { InferenceSession, Tensor } from './support/ort.js';

const workerScript = resolve(__dirname, 'fixtures', 'worker.cjs');

function startWorker(workerData: object): { worker: Worker; first: Promise<Record<string, unknown>> } {
  const worker = new Worker(workerScript, { workerData });
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, first };
}

describe('worker_threads', () => {
  test('a session is created and run inside a Worker, beside one on the main thread', async () => {
    const main = await InferenceSession.create(identity('float32', ['n']));
    const jobs = [1, 2, 3].map((k) => {
      const input = [k, k + 0.5, -k];
      const { worker, first } = startWorker({ model: identity('float32', ['n']), input, dims: [3], mode: 'run' });
      return first.then(async (message) => {
        await worker.terminate();
        return { input, message };
      });
    });
    const mainRun = main.run({ x: new Tensor('float32', new Float32Array([7]), [1]) });
    for (const { input, message } of await Promise.all(jobs)) {
      expect(message.error).toBeUndefined();
      expect(message.y).toEqual(input);
      expect(message.sync).toEqual(input);
      expect(message.dims).toEqual([3]);
    }
    expect(Array.from((await mainRun).y.data as Float32Array)).toEqual([7]);
  });

  test('a Worker terminated while its runs are in flight goes quietly, and the process carries on', async () => {
    const n = 512;
    const { worker, first } = startWorker({ model: slowChain(n, 64), input: Array.from(random(n * n, 3)), dims: [n, n], mode: 'hang' });
    expect(await first).toEqual({ inFlight: 4 });
    const start = performance.now();
    const code = await worker.terminate();
    expect(code).toBe(1); // terminated, not crashed
    // Its runs were told to stop (ONNX Runtime's terminate flag): teardown waited for one MatMul at
    // most, not for 4 runs of 64 (seconds of work on 2 runner threads).
    expect(performance.now() - start).toBeLessThan(1000);
    const session = await InferenceSession.create(identity('float32', ['n']));
    const { y } = await session.run({ x: new Tensor('float32', new Float32Array([1, 2]), [2]) });
    expect(Array.from(y.data as Float32Array)).toEqual([1, 2]);
  });
});

describe('process exit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ort-napi-exit-'));
  const model = join(dir, 'slow.onnx');
  writeFileSync(model, slowChain(512, 16));

  test.each([
    ['process.exit()', 'exit', 3],
    ['an uncaught exception', 'throw', 1],
  ])('a process that leaves by %s with runs in flight exits cleanly', (_how, how, code) => {
    const child = spawnSync(process.execPath, [resolve(__dirname, 'fixtures', 'exit-mid-run.cjs'), model, '512', how], {
      cwd: resolve(__dirname, '..'),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.signal).toBeNull();
    expect(child.status).toBe(code);
    if (how === 'throw') expect(child.stderr).toContain('deliberate');
  });
});
