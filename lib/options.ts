// options.ts: session and run option types, and their validation into what the addon reads.
import type { NativeRunOptions, NativeSessionOptions } from './binding.js';
import { checkKeys, invalid, isPlainObject, optionalChoice, optionalInteger, optionalString } from './validate.js';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
export type ExecutionMode = 'sequential' | 'parallel';
/** ONNX Runtime's log severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. */
export type LogSeverityLevel = 0 | 1 | 2 | 3 | 4;

export interface SessionOptions {
  /** Threads of the session's intra-op pool; 0 lets ONNX Runtime choose (one per physical core). */
  intraOpNumThreads?: number;
  /** Threads of the inter-op pool (executionMode 'parallel'); 0 lets ONNX Runtime choose. */
  interOpNumThreads?: number;
  graphOptimizationLevel?: GraphOptimizationLevel;
  executionMode?: ExecutionMode;
  logSeverityLevel?: LogSeverityLevel;
  /** A name for this session in ONNX Runtime's log. */
  logId?: string;
  /**
   * How many runs of this session execute at once (the rest queue, still off the main thread).
   * Default: one per `intraOpNumThreads`-sized share of the runner threads, so one at a time with
   * ONNX Runtime's default of a thread per core, and one per core with `intraOpNumThreads: 1`.
   */
  maxConcurrentRuns?: number;
  /** Only the CPU provider in this version: `['cpu']`. */
  executionProviders?: readonly ('cpu' | { name: 'cpu' })[];
}

export interface RunOptions {
  logSeverityLevel?: LogSeverityLevel;
  logVerbosityLevel?: number;
  /** A name for this run in ONNX Runtime's log. */
  tag?: string;
  /**
   * Aborts the run: a queued run never starts; a running one is stopped by ONNX Runtime's
   * terminate flag (checked between operators). Either way the promise rejects with
   * `signal.reason` (an AbortError DOMException unless the signal gave another), and the session
   * stays usable.
   */
  signal?: AbortSignal;
}

const GRAPH_LEVELS: Record<GraphOptimizationLevel, number> = { disabled: 0, basic: 1, extended: 2, layout: 3, all: 99 };
const MAX_THREADS = 1 << 16;

export function normalizeSessionOptions(options: unknown): NativeSessionOptions {
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw invalid('session options', 'an object', options);
  checkKeys('session options', options, [
    'intraOpNumThreads',
    'interOpNumThreads',
    'graphOptimizationLevel',
    'executionMode',
    'logSeverityLevel',
    'logId',
    'executionProviders',
    'maxConcurrentRuns',
  ]);
  optionalInteger('session options.maxConcurrentRuns', options.maxConcurrentRuns, 1, 1 << 20);
  const providers = options.executionProviders;
  if (providers !== undefined) {
    if (!Array.isArray(providers)) throw invalid('session options.executionProviders', 'an array', providers);
    providers.forEach((p: unknown, i) => {
      const name = typeof p === 'string' ? p : isPlainObject(p) ? p.name : undefined;
      if (name !== 'cpu') {
        throw invalid(`session options.executionProviders[${i}]`, "'cpu' (the only provider this version supports)", name ?? p);
      }
    });
  }
  const level = optionalChoice('session options.graphOptimizationLevel', options.graphOptimizationLevel, Object.keys(GRAPH_LEVELS) as GraphOptimizationLevel[]);
  const mode = optionalChoice('session options.executionMode', options.executionMode, ['sequential', 'parallel'] as const);
  return {
    intraOpNumThreads: optionalInteger('session options.intraOpNumThreads', options.intraOpNumThreads, 0, MAX_THREADS),
    interOpNumThreads: optionalInteger('session options.interOpNumThreads', options.interOpNumThreads, 0, MAX_THREADS),
    graphOptimizationLevel: level === undefined ? undefined : GRAPH_LEVELS[level],
    executionMode: mode === undefined ? undefined : mode === 'sequential' ? 0 : 1,
    logSeverityLevel: optionalInteger('session options.logSeverityLevel', options.logSeverityLevel, 0, 4),
    logId: optionalString('session options.logId', options.logId),
  };
}

export interface NormalizedRunOptions {
  native: NativeRunOptions | undefined;
  signal: AbortSignal | undefined;
}

const NO_RUN_OPTIONS: NormalizedRunOptions = Object.freeze({ native: undefined, signal: undefined });

export function normalizeRunOptions(options: unknown): NormalizedRunOptions {
  if (options === undefined) return NO_RUN_OPTIONS;
  if (!isPlainObject(options)) throw invalid('run options', 'an object', options);
  checkKeys('run options', options, ['logSeverityLevel', 'logVerbosityLevel', 'tag', 'signal']);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('run options.signal', 'an AbortSignal', signal);
  return {
    native: {
      logSeverityLevel: optionalInteger('run options.logSeverityLevel', options.logSeverityLevel, 0, 4),
      logVerbosityLevel: optionalInteger('run options.logVerbosityLevel', options.logVerbosityLevel, 0, 1 << 30),
      tag: optionalString('run options.tag', options.tag),
    },
    signal,
  };
}
