// stats.ts: the few statistics the bench reports, and the rotation that interleaves its sides.

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

export const median = (values: readonly number[]) => quantile(values, 0.5);

/** Median, min and max over the repeats of one figure. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every repeat's value, in order. */
  values: number[];
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), values: [...values] };
}

/** The order of the sides in repeat `r`: A B C, then B C A, then C A B, ... */
export function rotation<T>(sides: readonly T[], r: number): T[] {
  const k = r % sides.length;
  return [...sides.slice(k), ...sides.slice(0, k)];
}
