// native-run.ts: a run through the addon as lib/session.ts makes one (describe()): the run's
// numbers in a run descriptor (a Float64Array), its data in slots. For tests that call the addon
// directly.
import type { NativeSession } from '../../lib/binding.js';

/** A feed or a preallocated fetch as the descriptor holds it: index, type code, rank, dims. */
export const tensorAt = (index: number, type: number, dims: number[]): number[] => [index, type, dims.length, ...dims];

/** The run descriptor of `numbers` ([feedCount, fetchCount, feeds..., fetches...]), its length first. */
export function descriptorOf(numbers: number[]): Float64Array {
  const array = new Float64Array(Math.max(64, numbers.length + 1));
  array[0] = numbers.length + 1;
  array.set(numbers, 1);
  return array;
}

/** runSync with `numbers` as its run descriptor. */
export function runSyncDescribed(session: NativeSession, numbers: number[], slots: unknown[], options?: unknown): unknown {
  return session.runSync(descriptorOf(numbers), slots, options as never);
}
