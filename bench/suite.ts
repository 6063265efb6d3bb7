// suite.ts: the benchmark suite as data. Each comparison runs in a fresh process of its own
// (compare.ts), its sides interleaved in rotating blocks; each fresh-process trial (trial.ts)
// measures what only a new process can show (start-up, peak RSS), its sides alternating.
import type { ModelName } from './models.js';

/** The session options every side gets, the floor included (it sets the same ones in C++). */
export const SESSION_OPTIONS = {
  intraOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  enableCpuMemArena: true,
  enableMemPattern: true,
} as const;

/**
 * Sessions per side in latency and throughput, at most (compare.ts, "Sessions"): repeat r runs the
 * (r mod SESSIONS)-th; more repeats take them again, on the other CPU.
 */
export const SESSIONS = 7;

export type LatencySide = 'floor' | 'run()' | 'runSync()' | 'onnxruntime-node' | 'run(), outputs in place' | 'runSync(), outputs in place';

export type Comparison =
  /**
   * Sequential runs, one at a time: per-run time of each side, and its ratio to the floor. `pinned`
   * (the default): each repeat's sides compute on one CPU, the repeats taking the CPUs in turn
   * (compare.ts, Placement); false leaves the scheduler to place them.
   */
  | { kind: 'latency'; model: ModelName; repeats: number; blockMs: number; pinned?: boolean }
  /** `callers` concurrent callers for blockMs: runs/s and event-loop delay, an idle loop beside them. */
  | { kind: 'throughput'; model: ModelName; callers: number; repeats: number; blockMs: number; pinned?: boolean }
  /** An unbatched SessionPool against run() on a session with the same options: µs per request. */
  | { kind: 'pool'; model: ModelName; callers: number; repeats: number; blockMs: number }
  /**
   * A batching SessionPool against an unbatched one, one row per request. `goal`: the ≥ 3× goal
   * applies (a model whose runs cost about the same for 1 row and 32; a compute-bound conv net's
   * cost grows with its rows, and batching can only save the per-run overhead there).
   */
  | { kind: 'batching'; model: ModelName; callers: number; maxBatchSize: number; maxDelayMs: number; goal: boolean; repeats: number; blockMs: number };

export type Trial =
  | { kind: 'bigOutput'; side: 'ort-napi' | 'onnxruntime-node' }
  | { kind: 'startup'; side: 'ort-napi' | 'onnxruntime-node'; model: ModelName }
  | { kind: 'fs'; side: 'none' | 'ort-napi' | 'onnxruntime-node'; model: ModelName; inFlight: number; stats: number };

export interface Suite {
  comparisons: Comparison[];
  /** Fresh-process trials, each run `repeats` times with the sides' order alternating. */
  trials: Trial[][];
  trialRepeats: number;
}

export function suite(quick: boolean, pinned = true): Suite {
  const repeats = quick ? 5 : 7;
  const models: ModelName[] = quick ? ['tiny', 'silero', 'classifier'] : ['tiny', 'silero', 'classifier', 'detector'];
  // Blocks long enough to hold many runs, short enough that drift between sides stays small.
  const latencyMs = (m: ModelName) => (m === 'detector' ? 600 : quick ? 60 : 250);
  const throughputMs = (m: ModelName) => (m === 'detector' ? 1500 : quick ? 120 : 500);
  const comparisons: Comparison[] = [];
  // Latency's ratios to the floor are the goals' finest (a few percent): twice the repeats, each of
  // the sessions per side (compare.ts, "Sessions") then measured on both CPUs.
  for (const model of models) comparisons.push({ kind: 'latency', model, repeats: quick ? repeats : 2 * repeats, blockMs: latencyMs(model), ...(!pinned && { pinned }) });
  for (const model of models) {
    for (const callers of [1, 4, 8]) comparisons.push({ kind: 'throughput', model, callers, repeats, blockMs: throughputMs(model), ...(!pinned && { pinned }) });
  }
  // A difference of a few µs between two sides of tens of µs: many short blocks.
  for (const model of ['tiny', 'silero'] as ModelName[]) {
    for (const callers of [1, 8]) comparisons.push({ kind: 'pool', model, callers, repeats: quick ? 15 : 31, blockMs: quick ? 30 : 100 });
  }
  for (const [model, goal] of [['tiny', true], ['classifier', false]] as const) {
    comparisons.push({ kind: 'batching', model, callers: 64, maxBatchSize: 32, maxDelayMs: 2, goal, repeats, blockMs: quick ? 200 : 1000 });
  }
  const trials: Trial[][] = quick
    ? []
    : [
        [{ kind: 'bigOutput', side: 'ort-napi' }, { kind: 'bigOutput', side: 'onnxruntime-node' }],
        [{ kind: 'startup', side: 'ort-napi', model: 'classifier' }, { kind: 'startup', side: 'onnxruntime-node', model: 'classifier' }],
        (['none', 'ort-napi', 'onnxruntime-node'] as const).map((side) => ({ kind: 'fs', side, model: 'classifier', inFlight: 16, stats: 400 }) as Trial),
      ];
  return { comparisons, trials, trialRepeats: 5 };
}
