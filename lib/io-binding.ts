// io-binding.ts: IoBinding: inputs and outputs bound once to a session, runs repeated over them.
import type { NativeIoBinding } from './binding.js';
import { ReleasedError } from './errors.js';
import { cudaLibrary } from './providers.js';
import { ELEMENT_TYPES, Tensor, typeName, type DeviceHandle, type TensorType } from './tensor.js';
import { invalid, isPlainObject } from './validate.js';

/** What a binding needs of its session: names, and the same checks run() makes. */
export interface BindingHost {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  _checkInput(name: string, value: unknown): Tensor;
  _checkOutput(name: string, value: unknown): Tensor;
  _libraryPath(): string;
}

/**
 * Inputs and outputs bound to a session, for runs that repeat over the same memory:
 * `session.runWithBinding(binding)` then reads the bound inputs in place and writes the bound
 * outputs in place, with nothing to re-describe or allocate.
 */
export class IoBinding {
  readonly #native: NativeIoBinding;
  readonly #host: BindingHost;
  readonly #outputs = new Map<string, Tensor>();
  #released = false;
  #running = 0;

  /** @internal Made by session.createIoBinding(). */
  constructor(native: NativeIoBinding, host: BindingHost) {
    this.#native = native;
    this.#host = host;
  }

  /** Binds a Tensor to an input; its memory is read in place by every later run. */
  bindInput(name: string, tensor: Tensor): void {
    this.#check();
    const index = this.#index(this.#host.inputNames, name, 'input');
    const t = this.#host._checkInput(name, tensor);
    if (t._device) this.#native.bindInput(index, t._device as never, null, null);
    else this.#native.bindInput(index, ELEMENT_TYPES[t.type].code, t.data, t.dims);
  }

  /**
   * Binds an output to a Tensor that runs write into (in CPU or device memory: no allocation per
   * run), or to a device, `{ device: 'cpu' }` or `{ device: 'cuda', deviceId }`: memory ONNX Runtime
   * allocates there, read with getOutputs() (a device tensor stays on its device).
   */
  bindOutput(name: string, target: Tensor | { device: 'cpu' } | { device: 'cuda'; deviceId?: number; providerLibraryPath?: string }): void {
    this.#check();
    const index = this.#index(this.#host.outputNames, name, 'output');
    if (isPlainObject(target)) {
      if (target.device === 'cpu') {
        this.#native.bindOutput(index, null, null, null);
      } else if (target.device === 'cuda') {
        const deviceId = target.deviceId ?? 0;
        if (!Number.isSafeInteger(deviceId) || (deviceId as number) < 0) throw invalid(`bindOutput('${name}') deviceId`, 'a non-negative integer', deviceId);
        this.#native.bindOutput(index, 'cuda' as never, deviceId, cudaLibrary(target.providerLibraryPath, this.#host._libraryPath()) as never);
      } else {
        throw invalid(`bindOutput('${name}') device`, "'cpu' or 'cuda'", (target as { device: unknown }).device);
      }
      this.#outputs.delete(name);
      return;
    }
    const t = this.#host._checkOutput(name, target);
    if (t._device) this.#native.bindOutput(index, t._device as never, null, null);
    else this.#native.bindOutput(index, ELEMENT_TYPES[t.type].code, t.data, t.dims);
    this.#outputs.set(name, t);
  }

  clearBoundInputs(): void {
    this.#check();
    this.#native.clearBoundInputs();
  }

  clearBoundOutputs(): void {
    this.#check();
    this.#native.clearBoundOutputs();
    this.#outputs.clear();
  }

  /** Waits for bound inputs to be ready (device copies); a no-op for CPU memory. */
  synchronizeInputs(): void {
    this.#check();
    this.#native.synchronizeInputs();
  }

  /** Waits for bound outputs to be written (device streams); a no-op for CPU memory. */
  synchronizeOutputs(): void {
    this.#check();
    this.#native.synchronizeOutputs();
  }

  /** The outputs of the last run: bound Tensors as they are, the others as new Tensors. */
  getOutputs(): Record<string, Tensor> {
    this.#check();
    const flat = this.#native.getOutputs();
    const out: Record<string, Tensor> = {};
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i] as string;
      const raw = flat[i + 1] as [number, never, number[]] | DeviceHandle | null;
      if (raw === null) out[name] = this.#outputs.get(name)!;
      else if (Array.isArray(raw)) out[name] = new Tensor(typeName(raw[0]) as TensorType, raw[1], raw[2]);
      else out[name] = Tensor._fromDevice(raw); // stays on its device
    }
    return out;
  }

  /** Frees the binding (after any run using it). Idempotent. */
  release(): void {
    if (this.#released) return;
    if (this.#running > 0) throw new Error('an IoBinding cannot be released while a run uses it');
    this.#released = true;
    this.#native.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal */
  _native(): NativeIoBinding {
    this.#check();
    return this.#native;
  }

  /** @internal Marks a run in flight, so the binding is not changed or freed under it. */
  _track<T>(run: Promise<T>): Promise<T> {
    this.#running++;
    return run.finally(() => this.#running--);
  }

  #check(): void {
    if (this.#released) throw new ReleasedError('this IoBinding');
  }

  #index(names: readonly string[], name: string, kind: string): number {
    if (typeof name !== 'string') throw invalid(`${kind === 'input' ? 'bindInput' : 'bindOutput'} name`, `the name of an ${kind} of this model (${names.join(', ')})`, name);
    const index = names.indexOf(name);
    if (index < 0) throw new TypeError(`'${name}' is not an ${kind} of this model (${kind}s: ${names.join(', ')})`);
    return index;
  }
}
