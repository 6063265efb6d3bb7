// run.ts: `npm run bench`. Generates the models, runs every trial in a fresh process, prints a
// markdown table of ratios measured in this one run, and writes the raw figures as JSON.
//   --quick      shorter trials (a smoke run; its figures are noisier)
//   --json PATH  where the JSON goes (default bench/results/latest.json)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MODELS } from './models.js';
import { trials, type Trial } from './trials.js';

// compiled to bench/build/ts/bench/
const root = resolve(__dirname, '..', '..', '..', '..');
const quick = process.argv.includes('--quick');
const jsonArg = process.argv.indexOf('--json');
const jsonPath = jsonArg > 0 ? resolve(process.argv[jsonArg + 1]) : join(root, 'bench', 'results', 'latest.json');
const modelsDir = join(root, 'bench', 'build', 'models');
const floor = join(root, 'bench', 'build', 'floor', 'ort_floor');
// Both bindings and the floor run onnxruntime-node's own libonnxruntime: only the binding differs.
const ortLib = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');

type Result = Trial & { result: Record<string, number> };

function runTrial(trial: Trial): Record<string, number> {
  if (trial.side === 'floor') {
    if (trial.kind !== 'latency') throw new Error('the floor measures latency only');
    const out = execFileSync(floor, [ortLib, join(modelsDir, `${trial.model}.onnx`), String(trial.batch), String(trial.iterations), String(trial.threads)], { encoding: 'utf8' });
    return JSON.parse(out);
  }
  const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'trial.js'), JSON.stringify(trial), modelsDir], {
    encoding: 'utf8',
    env: { ...process.env, ORT_DYLIB_PATH: ortLib },
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`trial ${JSON.stringify(trial)} failed:\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}

function find(results: Result[], match: Partial<Record<string, unknown>>): Record<string, number> {
  const hit = results.find((r) => Object.entries(match).every(([k, v]) => (r as unknown as Record<string, unknown>)[k] === v));
  if (!hit) throw new Error(`no result for ${JSON.stringify(match)}`);
  return hit.result;
}

const f = (n: number, digits = 2) => n.toFixed(digits);
const x = (n: number) => `${n.toFixed(2)}×`;

function report(results: Result[]): { markdown: string; goals: { goal: string; figure: string; met: boolean }[] } {
  const lines: string[] = [];
  lines.push('**Per-run latency, sequential, intraOpNumThreads 1** (median / p90 µs; ratio of medians to the floor)', '');
  lines.push('| model | floor (C API) | ort-napi run() | ort-napi runSync() | onnxruntime-node |', '| --- | --- | --- | --- | --- |');
  for (const model of ['tiny', 'small', 'medium']) {
    const fl = find(results, { kind: 'latency', model, side: 'floor' });
    const cell = (side: string) => {
      const r = find(results, { kind: 'latency', model, side });
      return `${f(r.medianUs, 1)} / ${f(r.p90Us, 1)} (${x(r.medianUs / fl.medianUs)})`;
    };
    lines.push(`| ${model} | ${f(fl.medianUs, 1)} / ${f(fl.p90Us, 1)} | ${cell('ort-napi')} | ${cell('ort-napi-sync')} | ${cell('onnxruntime-node')} |`);
  }
  lines.push('', '**Throughput, small MLP at batch 8** (runs/s; event-loop delay p99 in ms)', '');
  lines.push('| intra-op threads | callers | ort-napi | onnxruntime-node | ratio | loop p99 ort-napi | loop p99 onnxruntime-node |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const threads of [1, 0]) {
    for (const callers of [1, 4, 16]) {
      const a = find(results, { kind: 'throughput', side: 'ort-napi', threads, callers });
      const b = find(results, { kind: 'throughput', side: 'onnxruntime-node', threads, callers });
      lines.push(`| ${threads === 0 ? 'default' : threads} | ${callers} | ${f(a.runsPerSec, 0)} | ${f(b.runsPerSec, 0)} | ${x(a.runsPerSec / b.runsPerSec)} | ${f(a.loopP99Ms)} | ${f(b.loopP99Ms)} |`);
    }
  }
  const bigA = find(results, { kind: 'bigOutput', side: 'ort-napi' });
  const bigB = find(results, { kind: 'bigOutput', side: 'onnxruntime-node' });
  lines.push('', `**A run with a ${f(bigA.outputMB, 0)} MB output** (peak RSS above the pre-run baseline, and as a multiple of the output)`, '');
  lines.push('| | run ms | peak above baseline MB | × output |', '| --- | --- | --- | --- |');
  for (const [name, r] of [['ort-napi', bigA], ['onnxruntime-node', bigB]] as const) {
    lines.push(`| ${name} | ${f(r.runMs, 0)} | ${f(r.peakAboveBaselineMB, 0)} | ${x(r.peakPerOutput)} |`);
  }
  const upA = find(results, { kind: 'startup', side: 'ort-napi' });
  const upB = find(results, { kind: 'startup', side: 'onnxruntime-node' });
  lines.push('', '**Start-up, medium model, fresh process** (ms)', '', '| | session create | first result since process start |', '| --- | --- | --- |');
  lines.push(`| ort-napi | ${f(upA.createMs, 1)} | ${f(upA.firstResultMs, 0)} |`, `| onnxruntime-node | ${f(upB.createMs, 1)} | ${f(upB.firstResultMs, 0)} |`);
  lines.push('', '**fs.promises.stat latency while 16 medium-model runs are in flight** (ms)', '', '| inference | p50 | p99 |', '| --- | --- | --- |');
  for (const side of ['none', 'ort-napi', 'onnxruntime-node']) {
    const r = find(results, { kind: 'fs', side });
    lines.push(`| ${side} | ${f(r.statP50Ms, 3)} | ${f(r.statP99Ms, 3)} |`);
  }

  const plain = find(results, { kind: 'pool', batching: false });
  const batched = find(results, { kind: 'pool', batching: true });
  const poolTrial = results.find((r) => r.kind === 'pool' && r.batching) as Extract<Result, { kind: 'pool' }>;
  const p99Bound = poolTrial.maxDelayMs + 2 * batched.batchRunMedianMs;
  lines.push('', `**SessionPool at ${poolTrial.callers} concurrent callers, small MLP, one row per request** (batching: maxBatchSize ${poolTrial.maxBatchSize}, maxDelayMs ${poolTrial.maxDelayMs})`, '');
  lines.push('| | requests/s | p50 ms | p99 ms | median batched run ms |', '| --- | --- | --- | --- | --- |');
  lines.push(`| unbatched | ${f(plain.requestsPerSec, 0)} | ${f(plain.p50Ms)} | ${f(plain.p99Ms)} | |`);
  lines.push(`| batched | ${f(batched.requestsPerSec, 0)} (${x(batched.requestsPerSec / plain.requestsPerSec)}) | ${f(batched.p50Ms)} | ${f(batched.p99Ms)} | ${f(batched.batchRunMedianMs)} |`);

  const tinyFloor = find(results, { kind: 'latency', model: 'tiny', side: 'floor' }).medianUs;
  const asyncRatio = find(results, { kind: 'latency', model: 'tiny', side: 'ort-napi' }).medianUs / tinyFloor;
  const syncRatio = find(results, { kind: 'latency', model: 'tiny', side: 'ort-napi-sync' }).medianUs / tinyFloor;
  const t4a = find(results, { kind: 'throughput', side: 'ort-napi', threads: 1, callers: 4 });
  const t4b = find(results, { kind: 'throughput', side: 'onnxruntime-node', threads: 1, callers: 4 });
  const goals = [
    { goal: 'tiny-model async latency ≤ 1.15× the floor', figure: x(asyncRatio), met: asyncRatio <= 1.15 },
    { goal: 'tiny-model sync latency ≤ 1.05× the floor', figure: x(syncRatio), met: syncRatio <= 1.05 },
    { goal: '≥ 1.8× onnxruntime-node throughput at 4 callers, intraOpNumThreads 1', figure: x(t4a.runsPerSec / t4b.runsPerSec), met: t4a.runsPerSec / t4b.runsPerSec >= 1.8 },
    { goal: 'event-loop p99 delay < 2 ms under that load', figure: `${f(t4a.loopP99Ms)} ms`, met: t4a.loopP99Ms < 2 },
    { goal: '256 MB output: peak RSS above baseline < 1.2× its size', figure: x(bigA.peakPerOutput), met: bigA.peakPerOutput < 1.2 },
    { goal: 'batched pool ≥ 3× the unbatched one at 64 callers', figure: x(batched.requestsPerSec / plain.requestsPerSec), met: batched.requestsPerSec / plain.requestsPerSec >= 3 },
    { goal: 'batched p99 < maxDelayMs + 2 batch run times', figure: `${f(batched.p99Ms)} ms < ${f(p99Bound)} ms`, met: batched.p99Ms < p99Bound },
  ];
  lines.push('', '**Goals**', '', '| goal | figure | met |', '| --- | --- | --- |');
  for (const g of goals) lines.push(`| ${g.goal} | ${g.figure} | ${g.met ? 'yes' : '**no**'} |`);
  return { markdown: lines.join('\n'), goals };
}

function main(): void {
  mkdirSync(modelsDir, { recursive: true });
  for (const [name, build] of Object.entries(MODELS)) writeFileSync(join(modelsDir, `${name}.onnx`), build());
  const list = trials(quick);
  const results: Result[] = [];
  for (const [i, trial] of list.entries()) {
    process.stderr.write(`[${i + 1}/${list.length}] ${JSON.stringify(trial)}\n`);
    results.push({ ...trial, result: runTrial(trial) });
  }
  const { markdown, goals } = report(results);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${f(totalmem() / 2 ** 30, 0)} GiB, node ${process.version}`;
  const ortVersion = execFileSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(join(root, 'dist', 'index.js'))}).env.versions.onnxruntime)`], {
    env: { ...process.env, ORT_DYLIB_PATH: ortLib },
    encoding: 'utf8',
  }).trim();
  const header = `Measured by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${machine}; ONNX Runtime ${ortVersion} (onnxruntime-node's own library) under all three sides.`;
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify({ date: new Date().toISOString(), machine, onnxruntime: ortVersion, quick, goals, results }, null, 2) + '\n');
  process.stdout.write(`${header}\n\n${markdown}\n`);
}

main();
