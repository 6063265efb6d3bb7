// backend.ts: ort-napi as onnxruntime-common's backend. Code written against onnxruntime-common
// (`import { InferenceSession } from 'onnxruntime-common'`, or onnxruntime-node's re-export of it,
// with onnxruntime-node pointed at this package) creates its sessions here, once ort-napi is loaded.
import { registerBackend, type Backend, type InferenceSession as CommonSession, type InferenceSessionHandler, type OnnxValue as CommonValue } from 'onnxruntime-common';
import { loadOrt } from './binding.js';
import { InferenceSession, UNWATCHED, type RunResult } from './session.js';
import { isPlainObject } from './validate.js';

/** The backends ort-napi serves, as onnxruntime-node lists its own. */
export interface SupportedBackend {
  name: string;
  /** Whether the bundled core has what it needs (the CPU provider); the others need their libraries. */
  bundled: boolean;
}

export function listSupportedBackends(): SupportedBackend[] {
  return [
    { name: 'cpu', bundled: true },
    { name: 'cuda', bundled: false },
    { name: 'tensorrt', bundled: false },
  ];
}

// Session options that only onnxruntime-web reads: onnxruntime-node ignores them, and so do we.
const WEB_ONLY = new Set(['preferredOutputLocation', 'enableGraphCapture']);

function sessionOptions(options: CommonSession.SessionOptions | undefined): Record<string | symbol, unknown> {
  const out: Record<string | symbol, unknown> = { [UNWATCHED]: true };
  if (!options) return out;
  // The options arrive through onnxruntime-common's Proxy, whose executionProviders are filtered.
  for (const key of Object.keys(options)) {
    if (WEB_ONLY.has(key)) continue;
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

class Handler implements InferenceSessionHandler {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly CommonSession.ValueMetadata[];
  readonly outputMetadata: readonly CommonSession.ValueMetadata[];

  constructor(private readonly session: InferenceSession) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.inputMetadata = session.inputMetadata as unknown as CommonSession.ValueMetadata[];
    this.outputMetadata = session.outputMetadata as unknown as CommonSession.ValueMetadata[];
  }

  async run(feeds: Record<string, CommonValue>, fetches: Record<string, CommonValue | null>, options: CommonSession.RunOptions): Promise<Record<string, CommonValue>> {
    const names = Object.keys(fetches);
    // onnxruntime-common hands every fetch over, null where ONNX Runtime allocates the output.
    const preallocated = names.some((name) => fetches[name] !== null);
    const runOptions = isPlainObject(options) && Object.keys(options).length > 0 ? options : undefined;
    const result: RunResult = preallocated
      ? await this.session.run(feeds as never, fetches as never, runOptions as never)
      : await this.session.run(feeds as never, names, runOptions as never);
    // ort-napi's Tensors are onnxruntime-common's (its prototype is an ancestor): passed on as they are.
    return result as unknown as Record<string, CommonValue>;
  }

  startProfiling(): void {
    // As in onnxruntime-node: profiling starts with the session when enableProfiling is set.
  }

  endProfiling(): void {
    this.session.endProfiling();
  }

  dispose(): Promise<void> {
    return this.session.release();
  }
}

const backend: Backend = {
  async init(): Promise<void> {
    loadOrt();
  },
  async createInferenceSessionHandler(model: string | Uint8Array, options?: CommonSession.SessionOptions): Promise<InferenceSessionHandler> {
    const session = await InferenceSession.create(model as never, sessionOptions(options) as never);
    return new Handler(session as InferenceSession);
  },
};

let registered = false;

/**
 * onnxruntime-node registers its backends at priority 100, and onnxruntime-common throws when a
 * second backend takes a name at the same priority: a process that loads both (ort-napi here, a
 * dependency still on onnxruntime-node) could then not start, whichever came first. One below it,
 * both load in either order; onnxruntime-common then keeps whichever registered first.
 */
export const BACKEND_PRIORITY = 99;

/** Registers ort-napi with onnxruntime-common for each backend it serves (once; ort-napi's index does it on load). */
export function registerOrtNapiBackend(): void {
  if (registered) return;
  registered = true;
  for (const { name } of listSupportedBackends()) registerBackend(name, backend, BACKEND_PRIORITY);
}

// onnxruntime-common's session method that ort-napi's InferenceSession lacks, added here so that
// code written for onnxruntime-node calls it unchanged.
declare module './session.js' {
  // The class's own type parameter, as a merged declaration must have it.
  interface InferenceSession<S extends ModelSignature = AnySignature> {
    /**
     * onnxruntime-common's: as in onnxruntime-node, a no-op. Profiling starts with the session
     * when it is created with `enableProfiling: true`; `endProfiling()` finishes it.
     */
    startProfiling(): void;
  }
}
InferenceSession.prototype.startProfiling = function startProfiling(): void {};
