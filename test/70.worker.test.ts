// 70.worker: sessions inside worker_threads, Workers terminated mid-run, processes leaving mid-run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { identity, random, slowChain } from './support/models.js';
import { buildModel } from './support/onnx.js';
import { env, InferenceSession, Tensor } from './support/ort.js';

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

  test('process.exit() with runs executing and queued leaves at once, and no run is left inside ONNX Runtime', () => {
    // 3 runs of 16 chained 512x512 MatMuls on 2 runner threads: one is still queued at exit. The
    // executing ones are terminated; the queued one never starts; ONNX Runtime's static
    // destructors then run with no runner inside it (no "not implemented" lines from a dying core).
    for (let i = 0; i < 8; i++) {
      const start = performance.now();
      const child = spawnSync(process.execPath, [resolve(__dirname, 'fixtures', 'exit-mid-run.cjs'), model, '512', 'exit'], {
        cwd: resolve(__dirname, '..'),
        encoding: 'utf8',
        timeout: 60_000,
      });
      const ms = performance.now() - start;
      expect(child.signal, child.stderr).toBeNull();
      expect(child.status, child.stderr).toBe(3);
      expect(child.stderr).not.toMatch(/not implemented|terminate called|Aborted/i);
      expect(ms).toBeLessThan(5000); // node startup + model load + exit; the runs alone take seconds
    }
  });

  test('a storm of Workers terminated mid-run, in a process whose main thread never loads the addon, crashes nothing', () => {
    const child = spawnSync(process.execPath, [resolve(__dirname, 'fixtures', 'worker-storm.cjs'), model, '40'], {
      cwd: resolve(__dirname, '..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(child.signal, child.stdout + child.stderr).toBeNull();
    expect(child.status, child.stdout + child.stderr).toBe(0);
    expect(child.stdout).toContain('STORM DONE');
    expect(child.stderr).not.toMatch(/terminate called|Segmentation|Aborted/i);
  });
});

describe('teardown waits only for what executes', () => {
  test('a Worker terminated while it loads a model cancels the load instead of waiting it out', async () => {
    // 20,000 chained Adds: over a second of graph resolution and optimisation on this machine.
    const n = 20_000;
    const nodes = Array.from({ length: n }, (_, i) => ({ op: 'Add', inputs: [i === 0 ? 'x' : `h${i}`, 'x'], outputs: [i === n - 1 ? 'y' : `h${i + 1}`] }));
    const model = buildModel({ inputs: [{ name: 'x', type: 'float32', dims: [4] }], outputs: [{ name: 'y', type: 'float32', dims: [4] }], nodes });
    const start = performance.now();
    await (await InferenceSession.create(model)).release();
    const loadMs = performance.now() - start;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { InferenceSession } = require('ort-napi');
       InferenceSession.create(workerData.model).catch(() => {});
       parentPort.postMessage('loading');`,
      { eval: true, workerData: { model } },
    );
    await new Promise((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject)));
    await new Promise((r) => setTimeout(r, Math.min(200, loadMs / 4)));
    const stop = performance.now();
    expect(await worker.terminate()).toBe(1);
    const terminateMs = performance.now() - stop;
    expect(terminateMs).toBeLessThan(loadMs / 2);
  });

  test('a Worker whose runs are queued behind the main thread’s is terminated at once', async () => {
    const n = 512;
    // One main-thread run per runner thread (as many as cores: 16 on a 16-core machine), so that none is free.
    const runners = env.versions.runThreads;
    const main = await InferenceSession.create(slowChain(n, 96), { intraOpNumThreads: 1, maxConcurrentRuns: runners });
    const x = new Tensor('float32', random(n * n, 5), [n, n]);
    const start = performance.now();
    main.runSync({ x });
    const runMs = performance.now() - start;
    // The Worker loads its model first; then every runner thread is given a main-thread run, and
    // only then does the Worker queue its runs behind them.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { InferenceSession, Tensor } = require('ort-napi');
       (async () => {
         const session = await InferenceSession.create(workerData.model, { intraOpNumThreads: 1 });
         parentPort.once('message', () => {
           for (let i = 0; i < 4; i++) session.run({ x: new Tensor('float32', new Float32Array(3), [3]) }).catch(() => {});
           parentPort.postMessage('queued');
         });
         parentPort.postMessage('ready');
       })();`,
      { eval: true, workerData: { model: identity('float32', ['n']) } },
    );
    const next = () => new Promise((resolve, reject) => (worker.once('message', resolve), worker.once('error', reject)));
    expect(await next()).toBe('ready');
    const busy = Array.from({ length: runners }, () => main.run({ x }));
    await new Promise((r) => setTimeout(r, 20));
    worker.postMessage('go');
    expect(await next()).toBe('queued');
    const stop = performance.now();
    expect(await worker.terminate()).toBe(1);
    const terminateMs = performance.now() - stop;
    // Before, teardown waited until a runner reached the Worker's queued runs: a whole main-thread run.
    expect(terminateMs).toBeLessThan(Math.max(250, runMs / 2));
    await Promise.all(busy);
    await main.release();
  });
});
