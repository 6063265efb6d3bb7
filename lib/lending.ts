// lending.ts: the rules for memory a caller lends to a run, an I/O binding or a model load
// (README: "Lent memory"). Zero copy means ONNX Runtime reads and writes the caller's own bytes
// off the main thread; a reference keeps their ArrayBuffer object alive, not its memory.
import { markAsUntransferable } from 'node:worker_threads';

/**
 * Checks that `data` can be lent, and keeps it where it is while lent:
 * - a resizable ArrayBuffer is refused: a resize can take its pages away under a running kernel;
 * - an ArrayBuffer is marked untransferable (worker_threads.markAsUntransferable), so that
 *   postMessage and structuredClone cannot detach it and free its memory mid-run: they copy it
 *   (Node 20) or refuse (Node 22+) instead. The mark is permanent, as for Node's own Buffer pool.
 * A SharedArrayBuffer needs neither: it cannot be detached, and growing one never moves it.
 */
export function lend(what: string, data: ArrayBufferView): void {
  const buffer = data.buffer as ArrayBuffer & { resizable?: boolean };
  if (buffer.resizable === true) {
    throw new TypeError(
      `${what} is on a resizable ArrayBuffer, which could shrink while ONNX Runtime reads it: pass a copy on a fixed-length buffer (data.slice())`,
    );
  }
  if (!(typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer)) markAsUntransferable(buffer);
}
