// trials.ts: the benchmark suite as data. Each trial runs in a fresh process (trial.ts) or, for the
// floor, as the C++ program; run.ts turns their results into ratios measured in one run.
import type { ModelName } from './models.js';

export type Side = 'floor' | 'ort-napi' | 'ort-napi-sync' | 'onnxruntime-node';

export type Trial =
  | { kind: 'latency'; side: Side; model: ModelName; batch: number; iterations: number; threads: number }
  | { kind: 'throughput'; side: Side; model: ModelName; batch: number; callers: number; durationMs: number; threads: number }
  | { kind: 'bigOutput'; side: Side }
  | { kind: 'startup'; side: Side; model: ModelName }
  | { kind: 'fs'; side: Side | 'none'; model: ModelName; inFlight: number; stats: number }
  | { kind: 'pool'; side: Side; model: ModelName; batching: boolean; callers: number; durationMs: number; maxBatchSize: number; maxDelayMs: number };

export function trials(quick: boolean): Trial[] {
  const scale = quick ? 0.2 : 1;
  const list: Trial[] = [];
  const latency: [ModelName, number, number][] = [
    ['tiny', 1, 4000],
    ['small', 1, 1000],
    ['medium', 1, 100],
  ];
  for (const [model, batch, iterations] of latency) {
    for (const side of ['floor', 'ort-napi', 'ort-napi-sync', 'onnxruntime-node'] as Side[]) {
      list.push({ kind: 'latency', side, model, batch, iterations: Math.max(20, Math.round(iterations * scale)), threads: 1 });
    }
  }
  for (const threads of [1, 0]) {
    for (const callers of [1, 4, 16]) {
      for (const side of ['ort-napi', 'onnxruntime-node'] as Side[]) {
        list.push({ kind: 'throughput', side, model: 'small', batch: 8, callers, durationMs: Math.round(2000 * scale), threads });
      }
    }
  }
  for (const side of ['ort-napi', 'onnxruntime-node'] as Side[]) {
    list.push({ kind: 'bigOutput', side });
    list.push({ kind: 'startup', side, model: 'medium' });
  }
  for (const side of ['none', 'ort-napi', 'onnxruntime-node'] as const) {
    list.push({ kind: 'fs', side, model: 'medium', inFlight: 16, stats: Math.round(400 * scale) });
  }
  for (const batching of [false, true]) {
    list.push({ kind: 'pool', side: 'ort-napi', model: 'small', batching, callers: 64, durationMs: Math.round(3000 * scale), maxBatchSize: 32, maxDelayMs: 2 });
  }
  return list;
}
