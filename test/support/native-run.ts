// native-run.ts: a run through the addon as lib/session.ts makes one (describe()): the run's
// numbers in the run descriptor, its data in slots. For tests that call the addon directly.
import type { NativeBinding, NativeSession } from '../../lib/binding.js';

/** A feed or a preallocated fetch as the descriptor holds it: index, type code, rank, dims. */
export const tensorAt = (index: number, type: number, dims: number[]): number[] => [index, type, dims.length, ...dims];

/**
 * runSync with `numbers` ([feedCount, fetchCount, feeds..., fetches...]) in a descriptor of the
 * test's own; lib/'s goes back in place afterwards.
 */
export function runSyncDescribed(native: NativeBinding, session: NativeSession, numbers: number[], slots: unknown[], options?: unknown): unknown {
  const array = new Float64Array(Math.max(64, numbers.length + 1));
  array[0] = numbers.length + 1;
  array.set(numbers, 1);
  const previous = native.setRunDescriptor(array);
  try {
    return session.runSync(slots, options as never);
  } finally {
    if (previous) native.setRunDescriptor(previous);
  }
}
