// trial.ts: runs one fresh-process trial of suite.ts in this process and prints its result as one
// JSON line. These measure what needs a new process (start-up, peak RSS) or a side alone (fs.stat
// latency under load); run.ts repeats each, the sides' order alternating.
//   argv[2]: the trial as JSON; argv[3]: the folder of generated models.
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { MODELS } from './models.js';
import { SESSION_OPTIONS, type Trial } from './suite.js';

const startedAt = performance.now(); // ms since this process started
// compiled to bench/build/ts/bench/
const root = resolve(__dirname, '..', '..', '..', '..');

interface Runner {
  run(): Promise<unknown>;
  output(result: unknown): { data: ArrayBufferView };
}

/** Loads `side`'s library and a session over `model`, fed as every bench side feeds it. */
async function open(side: string, model: keyof typeof MODELS, models: string, threads: number): Promise<{ runner: Runner; createMs: number }> {
  const lib = side === 'onnxruntime-node' ? require('onnxruntime-node') : require(join(root, 'dist', 'index.js'));
  const options: Record<string, unknown> = { ...SESSION_OPTIONS, intraOpNumThreads: threads };
  if (side === 'onnxruntime-node') options.executionProviders = ['cpu'];
  const start = performance.now();
  const session = await lib.InferenceSession.create(join(models, `${model}.onnx`), options);
  const createMs = performance.now() - start;
  const feeds = Object.fromEntries(MODELS[model].feeds(1).map((f) => [f.name, new lib.Tensor(f.type, f.data, f.dims)]));
  const out = session.outputNames[0];
  return {
    createMs,
    runner: {
      run: () => session.run(feeds),
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
    case 'bigOutput': {
      const { runner } = await open(trial.side, 'bigOutput', models, 0);
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
      const { runner, createMs } = await open(trial.side, trial.model, models, 0);
      await runner.run();
      return { createMs, firstResultMs: performance.now() - startedAt };
    }
    case 'fs': {
      let running = true;
      const callers: Promise<void>[] = [];
      if (trial.side !== 'none') {
        const { runner } = await open(trial.side, trial.model, models, 1);
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
