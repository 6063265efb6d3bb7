// trial.ts: runs one benchmark trial in this (fresh) process and prints its result as one JSON line.
// argv[2]: the trial as JSON; argv[3]: the folder of generated models.
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Trial } from './trials.js';

const startedAt = performance.now(); // ms since this process started
// compiled to bench/build/ts/bench/
const root = resolve(__dirname, '..', '..', '..', '..');

interface Runner {
  run(): Promise<unknown>;
  runSync(): unknown;
  output(result: unknown): { data: ArrayBufferView };
}

/** Loads `side`'s library and a session over `model`, with float inputs of the given batch. */
async function open(side: string, modelPath: string, batch: number, threads: number): Promise<{ runner: Runner; createMs: number }> {
  const lib = side === 'onnxruntime-node' ? require('onnxruntime-node') : require(join(root, 'dist', 'index.js'));
  const options: Record<string, unknown> = threads > 0 ? { intraOpNumThreads: threads } : {};
  if (side === 'onnxruntime-node') options.executionProviders = ['cpu'];
  const start = performance.now();
  const session = await lib.InferenceSession.create(modelPath, options);
  const createMs = performance.now() - start;
  const feeds: Record<string, unknown> = {};
  session.inputMetadata.forEach((meta: { name: string; shape: (number | string)[] }) => {
    const dims = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : batch));
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    feeds[meta.name] = new lib.Tensor('float32', data, dims);
  });
  const out = session.outputNames[0];
  return {
    createMs,
    runner: {
      run: () => session.run(feeds),
      runSync: () => session.runSync(feeds),
      output: (result) => (result as Record<string, { data: ArrayBufferView }>)[out],
    },
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

async function main(): Promise<Record<string, number>> {
  const trial = JSON.parse(process.argv[2]) as Trial;
  const models = process.argv[3];
  switch (trial.kind) {
    case 'latency': {
      const { runner } = await open(trial.side, join(models, `${trial.model}.onnx`), trial.batch, trial.threads);
      const sync = trial.side === 'ort-napi-sync';
      const times: number[] = [];
      const warmup = Math.max(10, trial.iterations / 10);
      for (let i = -warmup; i < trial.iterations; i++) {
        const t = performance.now();
        if (sync) runner.runSync();
        else await runner.run();
        if (i >= 0) times.push((performance.now() - t) * 1000);
      }
      times.sort((a, b) => a - b);
      return { medianUs: quantile(times, 0.5), p90Us: quantile(times, 0.9), runs: trial.iterations };
    }
    case 'throughput': {
      const { runner } = await open(trial.side, join(models, `${trial.model}.onnx`), trial.batch, trial.threads);
      for (let i = 0; i < 10; i++) await runner.run();
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      let runs = 0;
      const start = performance.now();
      const deadline = start + trial.durationMs;
      await Promise.all(
        Array.from({ length: trial.callers }, async () => {
          while (performance.now() < deadline) {
            await runner.run();
            runs++;
          }
        }),
      );
      const elapsed = performance.now() - start;
      loop.disable();
      return { runsPerSec: (runs / elapsed) * 1000, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6 };
    }
    case 'bigOutput': {
      const { runner } = await open(trial.side, join(models, 'bigOutput.onnx'), 1, 0);
      globalThis.gc?.();
      const baseline = process.memoryUsage().rss;
      const t = performance.now();
      const out = runner.output(await runner.run());
      const runMs = performance.now() - t;
      const bytes = out.data.byteLength;
      const peak = process.resourceUsage().maxRSS * 1024;
      return { runMs, outputMB: bytes / 2 ** 20, peakAboveBaselineMB: (peak - baseline) / 2 ** 20, peakPerOutput: (peak - baseline) / bytes };
    }
    case 'startup': {
      const { runner, createMs } = await open(trial.side, join(models, `${trial.model}.onnx`), 1, 0);
      await runner.run();
      return { createMs, firstResultMs: performance.now() - startedAt };
    }
    case 'pool': {
      const lib = require(join(root, 'dist', 'index.js'));
      const { subscribe } = require('node:diagnostics_channel');
      const batchRunMs: number[] = [];
      subscribe(lib.POOL_CHANNEL, (e: { batchSize: number; runMs: number }) => {
        if (e.batchSize > 1) batchRunMs.push(e.runMs);
      });
      const pool = await lib.SessionPool.create(join(models, `${trial.model}.onnx`), {
        maxQueue: 100_000,
        batching: trial.batching ? { maxBatchSize: trial.maxBatchSize, maxDelayMs: trial.maxDelayMs } : undefined,
      });
      const dims = [1, ...pool.sessions[0].inputMetadata[0].shape.slice(1)];
      const data = new Float32Array(dims.reduce((a: number, b: number) => a * b, 1)).fill(0.25);
      const x = new lib.Tensor('float32', data, dims);
      for (let i = 0; i < 50; i++) await pool.run({ x });
      const latencies: number[] = [];
      batchRunMs.length = 0;
      const start = performance.now();
      const deadline = start + trial.durationMs;
      await Promise.all(
        Array.from({ length: trial.callers }, async () => {
          while (performance.now() < deadline) {
            const t = performance.now();
            await pool.run({ x });
            latencies.push(performance.now() - t);
          }
        }),
      );
      const elapsed = performance.now() - start;
      await pool.close();
      latencies.sort((a, b) => a - b);
      batchRunMs.sort((a, b) => a - b);
      return {
        requestsPerSec: (latencies.length / elapsed) * 1000,
        p50Ms: quantile(latencies, 0.5),
        p99Ms: quantile(latencies, 0.99),
        batchRunMedianMs: batchRunMs.length ? quantile(batchRunMs, 0.5) : 0,
      };
    }
    case 'fs': {
      let running = true;
      const callers: Promise<void>[] = [];
      if (trial.side !== 'none') {
        const { runner } = await open(trial.side, join(models, `${trial.model}.onnx`), 1, 1);
        for (let i = 0; i < trial.inFlight; i++) {
          callers.push((async () => {
            while (running) await runner.run();
          })());
        }
      }
      const times: number[] = [];
      for (let i = 0; i < trial.stats; i++) {
        const t = performance.now();
        await fs.stat(__filename);
        times.push(performance.now() - t);
      }
      running = false;
      await Promise.all(callers);
      times.sort((a, b) => a - b);
      return { statP50Ms: quantile(times, 0.5), statP99Ms: quantile(times, 0.99) };
    }
  }
}

main().then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  },
  (error) => {
    process.stderr.write(String(error?.stack ?? error) + '\n');
    process.exit(1);
  },
);
