// run.ts: `npm run bench`. Generates the models and their feeds, runs each comparison of suite.ts in
// a fresh process (compare.ts: its sides interleaved in rotating blocks, repeated) and each
// fresh-process trial (trial.ts) several times, then prints the tables with every ratio's median
// and [min–max] over the repeats, and writes bench/results/latest.json and latest.md.
//   --quick      a smoke run of about a minute: 5 repeats of short blocks, no detector, no fresh-process trials
//   --markdown   print the tables as markdown (what the README's Performance section shows)
//   --json PATH  where the JSON goes (default bench/results/latest.json; latest.md beside it)
//   --unpinned   latency and one-caller throughput sides computing wherever the scheduler puts
//                them (compare.ts, Placement)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { encodeFeeds, MODELS } from './models.js';
import { spread, type Spread } from './stats.js';
import { SESSIONS, suite, type Comparison, type Trial } from './suite.js';

// compiled to bench/build/ts/bench/
const root = resolve(__dirname, '..', '..', '..', '..');
const quick = process.argv.includes('--quick');
const markdown = process.argv.includes('--markdown');
const pinned = !process.argv.includes('--unpinned');
const jsonArg = process.argv.indexOf('--json');
const jsonPath = jsonArg > 0 ? resolve(process.argv[jsonArg + 1]) : join(root, 'bench', 'results', 'latest.json');
const modelsDir = join(root, 'bench', 'build', 'models');
const floor = join(root, 'bench', 'build', 'floor', 'ort_floor');
// Both bindings and the floor run onnxruntime-node's own libonnxruntime: only the binding differs.
const ortLib = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
const childEnv = { ...process.env, ORT_DYLIB_PATH: ortLib };

type Figures = Record<string, number>;
type Sides = Record<string, Figures[]>;
interface Measured {
  comparison: Comparison;
  sides: Sides;
}

function node(script: string, args: string[], what: string): string {
  const child = spawnSync(process.execPath, ['--expose-gc', join(__dirname, script), ...args], { encoding: 'utf8', env: childEnv, maxBuffer: 16 << 20 });
  if (child.status !== 0) throw new Error(`${what} failed:\n${child.stderr}`);
  return child.stdout.trim().split('\n').pop()!;
}

/** One figure of one side, per repeat. */
const series = (sides: Sides, side: string, key: string) => sides[side].map((f) => f[key]);
/** a / b (or a − b) repeat by repeat: both sides' blocks of one repeat ran back to back. */
const paired = (a: number[], b: number[], op: (x: number, y: number) => number) => spread(a.map((x, i) => op(x, b[i])));
const ratio = (sides: Sides, a: string, b: string, key: string) => paired(series(sides, a, key), series(sides, b, key), (x, y) => x / y);

const fmt = (n: number, digits?: number) => n.toFixed(digits ?? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2));
// Three decimals near 1×, where two would hide which side of a goal of 1× the median is.
const x = (n: number) => n.toFixed(Math.abs(n - 1) < 0.005 ? 3 : 2);
const times = (s: Spread) => `${x(s.median)}× [${x(s.min)}–${x(s.max)}]`;
const plusMinus = (s: Spread, unit: string) => `${s.median >= 0 ? '+' : ''}${fmt(s.median)} ${unit} [${fmt(s.min)} to ${fmt(s.max)}]`;
const mid = (values: number[]) => spread(values).median;

interface Table {
  title: string;
  head: string[];
  rows: string[][];
}

function render(tables: Table[], asMarkdown: boolean): string {
  return tables
    .map(({ title, head, rows }) => {
      if (asMarkdown) {
        const cells = (r: string[]) => r.map((c) => (c === 'no' ? '**no**' : c)).join(' | '); // a missed goal stands out
        return [`**${title}**`, '', `| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cells(r)} |`)].join('\n');
      }
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
      return [title, line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
    })
    .join('\n\n');
}

interface Goal {
  goal: string;
  figure: string;
  met: boolean;
}

function report(measured: Measured[], trials: { trial: Trial; runs: Figures[] }[]): { tables: Table[]; goals: Goal[]; summary: unknown[] } {
  const tables: Table[] = [];
  const goals: Goal[] = [];
  const summary: unknown[] = [];
  const of = <K extends Comparison['kind']>(kind: K) => measured.filter((m) => m.comparison.kind === kind) as (Measured & { comparison: Extract<Comparison, { kind: K }> })[];

  const latency = of('latency');
  const lat: Table = {
    title: 'Per-run latency, sequential, intraOpNumThreads 1 (µs: median of the blocks\' medians; ratios: median [min–max] over the repeats)',
    head: ['model', 'floor (C API)', 'run()', 'runSync()', 'onnxruntime-node', 'run() ÷ floor', 'runSync() ÷ floor', 'onnxruntime-node ÷ floor', 'run() ÷ onnxruntime-node'],
    rows: [],
  };
  for (const { comparison: c, sides } of latency) {
    const us = (side: string) => fmt(mid(series(sides, side, 'medianUs')));
    const r = {
      run: ratio(sides, 'run()', 'floor', 'medianUs'),
      sync: ratio(sides, 'runSync()', 'floor', 'medianUs'),
      node: ratio(sides, 'onnxruntime-node', 'floor', 'medianUs'),
      runVsNode: ratio(sides, 'run()', 'onnxruntime-node', 'medianUs'),
    };
    summary.push({ kind: 'latency', model: c.model, ...r });
    lat.rows.push([c.model, us('floor'), us('run()'), us('runSync()'), us('onnxruntime-node'), times(r.run), times(r.sync), times(r.node), times(r.runVsNode)]);
    const floorUs = mid(series(sides, 'floor', 'medianUs'));
    goals.push({ goal: `${c.model}: run() ≤ onnxruntime-node's per-run time`, figure: times(r.runVsNode), met: r.runVsNode.median <= 1 });
    if (floorUs >= 100) {
      goals.push({ goal: `${c.model}: run() ≤ 1.15× the floor`, figure: times(r.run), met: r.run.median <= 1.15 });
      goals.push({ goal: `${c.model}: runSync() ≤ 1.05× the floor`, figure: times(r.sync), met: r.sync.median <= 1.05 });
    }
  }
  tables.push(lat);

  const inPlace: Table = {
    title: 'Outputs written in place (`run(feeds, fetches)` given tensors to write into), same rotation as the latency table (µs; ratios: median [min–max])',
    head: ['model', 'floor (C API)', 'run()', 'run(), in place', 'runSync()', 'runSync(), in place', 'run(), in place ÷ floor', 'runSync(), in place ÷ floor', 'run(), in place ÷ run()'],
    rows: [],
  };
  for (const { comparison: c, sides } of latency) {
    if (!sides['run(), outputs in place']) continue;
    const us = (side: string) => fmt(mid(series(sides, side, 'medianUs')));
    const r = {
      run: ratio(sides, 'run(), outputs in place', 'floor', 'medianUs'),
      sync: ratio(sides, 'runSync(), outputs in place', 'floor', 'medianUs'),
      saved: ratio(sides, 'run(), outputs in place', 'run()', 'medianUs'),
    };
    summary.push({ kind: 'outputsInPlace', model: c.model, ...r });
    inPlace.rows.push([c.model, us('floor'), us('run()'), us('run(), outputs in place'), us('runSync()'), us('runSync(), outputs in place'), times(r.run), times(r.sync), times(r.saved)]);
  }
  if (inPlace.rows.length > 0) tables.push(inPlace);

  const placed = latency.filter(({ sides }) => sides['run(), small pages']);
  if (placed.length > 0) {
    const huge: Table = {
      title: 'Weights on huge pages (`hugePages`, on by default) against small pages, same rotation as the table above (µs; ratios: median [min–max])',
      head: ['model', 'MiB on huge pages', 'run()', 'run(), small pages', 'run() ÷ small pages', 'floor', 'floor, small pages', 'floor ÷ small pages', 'onnxruntime-node ÷ run()'],
      rows: [],
    };
    for (const { comparison: c, sides } of placed) {
      const us = (side: string) => fmt(mid(series(sides, side, 'medianUs')));
      const r = {
        run: ratio(sides, 'run()', 'run(), small pages', 'medianUs'),
        floor: ratio(sides, 'floor', 'floor, small pages', 'medianUs'),
        node: ratio(sides, 'onnxruntime-node', 'run()', 'medianUs'),
      };
      summary.push({ kind: 'hugePages', model: c.model, ...r });
      const mib = fmt(mid(series(sides, 'run()', 'hugePageBytes')) / 2 ** 20, 0);  // of the sessions, which each collapse their own
      huge.rows.push([c.model, mib, us('run()'), us('run(), small pages'), times(r.run), us('floor'), us('floor, small pages'), times(r.floor), times(r.node)]);
    }
    tables.push(huge);
  }

  const tput: Table = {
    title: 'Throughput, intraOpNumThreads 1, async callers each awaiting one run after another (runs/s; event-loop delay p99 in ms, and above the idle loop\'s p99 of the same repeat)',
    head: ['model', 'callers', 'ort-napi', 'onnxruntime-node', 'ort-napi ÷ onnxruntime-node', 'idle loop p99', 'ort-napi loop p99', 'onnxruntime-node loop p99'],
    rows: [],
  };
  for (const { comparison: c, sides } of of('throughput')) {
    const r = ratio(sides, 'ort-napi', 'onnxruntime-node', 'runsPerSec');
    const idle = series(sides, 'idle', 'loopP99Ms');
    const above = (side: string) => paired(series(sides, side, 'loopP99Ms'), idle, (x, y) => x - y);
    const [a, b] = [above('ort-napi'), above('onnxruntime-node')];
    const loop = (side: string, s: Spread) => `${fmt(mid(series(sides, side, 'loopP99Ms')))} (${plusMinus(s, 'ms')})`;
    summary.push({ kind: 'throughput', model: c.model, callers: c.callers, ratio: r, loopAboveIdleMs: { 'ort-napi': a, 'onnxruntime-node': b } });
    tput.rows.push([c.model, String(c.callers), fmt(mid(series(sides, 'ort-napi', 'runsPerSec')), 0), fmt(mid(series(sides, 'onnxruntime-node', 'runsPerSec')), 0), times(r), fmt(mid(idle)), loop('ort-napi', a), loop('onnxruntime-node', b)]);
    goals.push({ goal: `${c.model}, ${c.callers} caller${c.callers > 1 ? 's' : ''}: throughput ≥ onnxruntime-node's`, figure: times(r), met: r.median >= 1 });
    goals.push({ goal: `${c.model}, ${c.callers} caller${c.callers > 1 ? 's' : ''}: loop p99 ≤ 2 ms above idle`, figure: plusMinus(a, 'ms'), met: a.median <= 2 });
  }
  tables.push(tput);

  const pool: Table = {
    title: 'SessionPool without batching against run() on the pool\'s own session (µs per request: one caller, the sides alternating request by request, the median request; several, the block\'s time over its requests)',
    head: ['model', 'callers', 'run()', 'pool', 'pool − run()', 'main-thread busy per request: pool − run()'],
    rows: [],
  };
  for (const { comparison: c, sides } of of('pool')) {
    const key = c.callers === 1 ? 'medianUs' : 'usPerRequest';
    const d = paired(series(sides, 'pool', key), series(sides, 'run()', key), (x, y) => x - y);
    const busy = paired(series(sides, 'pool', 'loopBusyUsPerRequest'), series(sides, 'run()', 'loopBusyUsPerRequest'), (x, y) => x - y);
    summary.push({ kind: 'pool', model: c.model, callers: c.callers, differenceUs: d, loopBusyDifferenceUs: busy });
    pool.rows.push([c.model, String(c.callers), fmt(mid(series(sides, 'run()', key))), fmt(mid(series(sides, 'pool', key))), plusMinus(d, 'µs'), plusMinus(busy, 'µs')]);
    goals.push({ goal: `${c.model}, ${c.callers} caller${c.callers > 1 ? 's' : ''}: unbatched pool within 3 µs of run()`, figure: plusMinus(d, 'µs'), met: d.median <= 3 });
  }
  tables.push(pool);

  const batch: Table = {
    title: 'SessionPool with dynamic batching against without, one row per request (requests/s; callers\' latency in ms)',
    head: ['model', 'callers', 'batching', 'unbatched', 'batched', 'batched ÷ unbatched', 'unbatched p50 / p99', 'batched p50 / p99'],
    rows: [],
  };
  for (const { comparison: c, sides } of of('batching')) {
    const r = ratio(sides, 'batched', 'unbatched', 'requestsPerSec');
    const lat = (side: string) => `${fmt(mid(series(sides, side, 'p50Ms')))} / ${fmt(mid(series(sides, side, 'p99Ms')))}`;
    summary.push({ kind: 'batching', model: c.model, callers: c.callers, ratio: r });
    batch.rows.push([c.model, String(c.callers), `maxBatchSize ${c.maxBatchSize}, maxDelayMs ${c.maxDelayMs}`, fmt(mid(series(sides, 'unbatched', 'requestsPerSec')), 0), fmt(mid(series(sides, 'batched', 'requestsPerSec')), 0), times(r), lat('unbatched'), lat('batched')]);
    if (c.goal) goals.push({ goal: `${c.model}, ${c.callers} callers: batched pool ≥ 3× unbatched (min ≥ 2.5×)`, figure: times(r), met: r.median >= 3 && r.min >= 2.5 });
  }
  tables.push(batch);

  if (trials.length > 0) {
    const runsOf = (kind: string, side: string) => trials.find((t) => t.trial.kind === kind && t.trial.side === side)?.runs ?? [];
    const cell = (kind: string, side: string, key: string, digits?: number) => {
      const s = spread(runsOf(kind, side).map((f) => f[key]));
      return `${fmt(s.median, digits)} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
    };
    const sides = ['ort-napi', 'onnxruntime-node'];
    tables.push({
      title: 'A run with a 256 MB output, fresh process each (peak RSS above the pre-run baseline; median [min–max])',
      head: ['', 'run ms', 'peak above baseline MB', '× output'],
      rows: sides.map((s) => [s, cell('bigOutput', s, 'runMs', 0), cell('bigOutput', s, 'peakAboveBaselineMB', 0), cell('bigOutput', s, 'peakPerOutput', 2)]),
    });
    tables.push({
      title: 'Start-up, classifier, fresh process each (ms; median [min–max])',
      head: ['', 'session create', 'first result since process start'],
      rows: sides.map((s) => [s, cell('startup', s, 'createMs', 1), cell('startup', s, 'firstResultMs', 0)]),
    });
    tables.push({
      title: 'fs.promises.stat latency while 16 classifier runs are in flight (ms; median [min–max])',
      head: ['inference', 'p50', 'p99'],
      rows: ['none', ...sides].map((s) => [s, cell('fs', s, 'statP50Ms', 3), cell('fs', s, 'statP99Ms', 3)]),
    });
    const peak = spread(runsOf('bigOutput', 'ort-napi').map((f) => f.peakPerOutput));
    goals.push({ goal: '256 MB output: peak RSS above baseline < 1.2× its size', figure: times(peak), met: peak.median < 1.2 });
  }
  tables.push({ title: 'Goals (medians; batching also by its min)', head: ['goal', 'figure', 'met'], rows: goals.map((g) => [g.goal, g.figure, g.met ? 'yes' : 'no']) });
  return { tables, goals, summary };
}

/**
 * The floor's silero run pinned to each vCPU in turn (3 rotations of 300 runs; the median per
 * vCPU), Linux only. A virtual machine's vCPUs need not be alike, and a binding whose run lands on
 * another vCPU than the floor's reads faster or slower by that much (seen here: 146 against 175 µs).
 */
function vcpuSpeeds(): number[] | undefined {
  const count = cpus().length;
  if (process.platform !== 'linux' || count < 2 || count > 64) return undefined;
  const commands = [`load s ${join(modelsDir, 'silero.onnx')} ${join(modelsDir, 'silero.feeds')}`];
  for (let round = 0; round < 3; round++)
    for (let i = 0; i < count; i++) commands.push(`pin ${(i + round) % count}`, 'run s 300');
  const child = spawnSync(floor, [ortLib, '1'], { input: commands.join('\n') + '\nquit\n', encoding: 'utf8', env: childEnv });
  const answers = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as { medianUs?: number; error?: string });
  const failed = answers.find((a) => a.error !== undefined);
  if (child.status !== 0 || failed) throw new Error(`the floor's vCPU check failed: ${failed?.error ?? child.stderr}`);
  const runs = answers.filter((a) => a.medianUs !== undefined).map((a) => a.medianUs!);
  const per: number[][] = Array.from({ length: count }, () => []);
  runs.forEach((us, k) => per[(Math.floor(k / count) + (k % count)) % count].push(us));
  return per.map(mid);
}

function main(): void {
  const started = performance.now();
  const { comparisons, trials, trialRepeats } = suite(quick, pinned);
  mkdirSync(modelsDir, { recursive: true });
  for (const [name, model] of Object.entries(MODELS)) {
    writeFileSync(join(modelsDir, `${name}.onnx`), model.bytes());
    writeFileSync(join(modelsDir, `${name}.feeds`), encodeFeeds(model.feeds(1)));
  }
  const vcpus = vcpuSpeeds();
  const measured: Measured[] = [];
  for (const [i, comparison] of comparisons.entries()) {
    process.stderr.write(`[${i + 1}/${comparisons.length}, ${fmt((performance.now() - started) / 1000, 0)} s] ${JSON.stringify(comparison)}\n`);
    const sides = JSON.parse(node('compare.js', [JSON.stringify(comparison), modelsDir, floor], `comparison ${JSON.stringify(comparison)}`)) as Sides;
    measured.push({ comparison, sides });
  }
  const trialRuns = trials.flatMap((group) => group.map((trial) => ({ trial, runs: [] as Figures[] })));
  for (let r = 0; r < (trials.length ? trialRepeats : 0); r++) {
    for (const group of trials) {
      const order = r % 2 === 0 ? group : [...group].reverse();
      for (const trial of order) {
        process.stderr.write(`[trial ${r + 1}/${trialRepeats}] ${JSON.stringify(trial)}\n`);
        trialRuns.find((t) => t.trial === trial)!.runs.push(JSON.parse(node('trial.js', [JSON.stringify(trial), modelsDir], `trial ${JSON.stringify(trial)}`)));
      }
    }
  }
  const { tables, goals, summary } = report(measured, trialRuns);
  const cpu = cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, node ${process.version}`;
  const ortVersion = execFileSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(join(root, 'dist', 'index.js'))}).env.versions.onnxruntime)`], { env: childEnv, encoding: 'utf8' }).trim();
  const repeatsOf = (kind: Comparison['kind']) => comparisons.find((c) => c.kind === kind)?.repeats ?? 0;
  const [latencyRepeats, otherRepeats] = [repeatsOf('latency'), repeatsOf('throughput')];
  const repeats = latencyRepeats === otherRepeats ? `${latencyRepeats} repeats` : `${latencyRepeats} repeats (latency; ${otherRepeats} elsewhere)`;
  const header =
    `Measured by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${machine}, ${new Date().toISOString().slice(0, 10)}; ` +
    `ONNX Runtime ${ortVersion} (onnxruntime-node's own libonnxruntime) under every side. ` +
    `Each ratio: median [min–max] of ${repeats}, the sides interleaved in rotating blocks in one process per comparison; ` +
    `in latency and throughput each repeat on sessions of its own, loaded apart (up to ${SESSIONS} a side, the floor's included).` +
    (vcpus ? ` The floor's silero run pinned to each vCPU in turn: ${vcpus.map((us, i) => `vCPU ${i} ${fmt(us)} µs`).join(', ')}.` : '') +
    (pinned && process.platform === 'linux' && cpu.length >= 2
      ? ` Latency: in each repeat every side computes on the same CPU, the repeats taking the CPUs in turn.`
      : ` Latency: every side computes where the scheduler puts it.`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify({ date: new Date().toISOString(), machine, vcpuSileroFloorUs: vcpus ?? null, onnxruntime: ortVersion, quick, pinned, goals, summary, comparisons: measured, trials: trialRuns }, null, 2) + '\n');
  writeFileSync(jsonPath.replace(/\.json$/, '.md'), `${header}\n\n${render(tables, true)}\n`);
  process.stdout.write(`${header}\n\n${render(tables, markdown)}\n`);
  process.stderr.write(`done in ${fmt((performance.now() - started) / 1000, 0)} s; ${jsonPath} and ${jsonPath.replace(/\.json$/, '.md')} written\n`);
}

main();
