/** Small statistics used by the simulator report. */

/** Percentile (nearest rank) of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/**
 * Kendall's tau-b between two rankings of the same items, in O(n log n) (Knight's
 * algorithm: count discordant pairs as merge-sort inversions). 1 means identical order.
 */
export function kendallTau(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n !== ys.length) throw new Error('kendallTau needs two rankings of equal length');
  if (n < 2) return 1;
  const pairs = xs.map((x, i) => [x, ys[i] as number] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const tiedPairs = (values: readonly number[]): number => {
    let total = 0;
    let run = 1;
    for (let i = 1; i <= values.length; i++) {
      if (i < values.length && values[i] === values[i - 1]) run++;
      else {
        total += (run * (run - 1)) / 2;
        run = 1;
      }
    }
    return total;
  };
  // Pairs tied on x (and on both).
  const tiesX = tiedPairs(pairs.map((p) => p[0]));
  let tiesXY = 0;
  let run = 1;
  for (let i = 1; i <= n; i++) {
    const same = i < n && pairs[i]?.[0] === pairs[i - 1]?.[0] && pairs[i]?.[1] === pairs[i - 1]?.[1];
    if (same) run++;
    else {
      tiesXY += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  const ysOrdered = pairs.map((p) => p[1]);
  const swaps = countInversions(ysOrdered);
  const tiesY = tiedPairs([...ysOrdered].sort((a, b) => a - b));
  const total = (n * (n - 1)) / 2;
  const concordantMinusDiscordant = total - tiesX - tiesY + tiesXY - 2 * swaps;
  const denominator = Math.sqrt((total - tiesX) * (total - tiesY));
  return denominator === 0 ? 1 : concordantMinusDiscordant / denominator;
}

/** Number of inversions (pairs out of order), sorting a copy by merge sort. */
function countInversions(values: readonly number[]): number {
  let a = [...values];
  let b = new Array<number>(a.length);
  let inversions = 0;
  for (let width = 1; width < a.length; width *= 2) {
    for (let lo = 0; lo < a.length; lo += 2 * width) {
      const mid = Math.min(lo + width, a.length);
      const hi = Math.min(lo + 2 * width, a.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if ((a[i] as number) <= (a[j] as number)) b[k++] = a[i++] as number;
        else {
          inversions += mid - i;
          b[k++] = a[j++] as number;
        }
      }
      while (i < mid) b[k++] = a[i++] as number;
      while (j < hi) b[k++] = a[j++] as number;
    }
    [a, b] = [b, a];
  }
  return inversions;
}
