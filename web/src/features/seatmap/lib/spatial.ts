/**
 * A uniform grid over seat centres: hit-testing a pointer against 50,000 seats looks at a
 * handful of cells instead of every seat (compressed rows: cellStart/cellItems arrays).
 */
export interface SpatialGrid {
  minX: number;
  minY: number;
  cellSize: number;
  columns: number;
  rows: number;
  cellStart: Int32Array;
  cellItems: Int32Array;
}

/** Indexes points (xs[i], ys[i]). */
export function buildGrid(
  xs: Float32Array, ys: Float32Array,
  bounds: { minX: number; minY: number; maxX: number; maxY: number },
  cellSize = 2,
): SpatialGrid {
  const columns = Math.max(1, Math.ceil((bounds.maxX - bounds.minX) / cellSize) + 1);
  const rows = Math.max(1, Math.ceil((bounds.maxY - bounds.minY) / cellSize) + 1);
  const counts = new Int32Array(columns * rows + 1);
  const cellOf = new Int32Array(xs.length);
  for (let i = 0; i < xs.length; i += 1) {
    const cx = Math.floor(((xs[i] as number) - bounds.minX) / cellSize);
    const cy = Math.floor(((ys[i] as number) - bounds.minY) / cellSize);
    const cell = Math.min(rows - 1, Math.max(0, cy)) * columns
      + Math.min(columns - 1, Math.max(0, cx));
    cellOf[i] = cell;
    counts[cell + 1] = (counts[cell + 1] as number) + 1;
  }
  for (let c = 1; c < counts.length; c += 1) {
    counts[c] = (counts[c] as number) + (counts[c - 1] as number);
  }
  const cellStart = counts.slice();
  const fill = counts.slice();
  const cellItems = new Int32Array(xs.length);
  for (let i = 0; i < xs.length; i += 1) {
    const cell = cellOf[i] as number;
    cellItems[fill[cell] as number] = i;
    fill[cell] = (fill[cell] as number) + 1;
  }
  return { minX: bounds.minX, minY: bounds.minY, cellSize, columns, rows, cellStart, cellItems };
}

/** The index of the point nearest (x, y) within maxDistance, or -1. */
export function nearest(
  grid: SpatialGrid, xs: Float32Array, ys: Float32Array, x: number, y: number, maxDistance: number,
): number {
  const reach = Math.ceil(maxDistance / grid.cellSize);
  const cx = Math.floor((x - grid.minX) / grid.cellSize);
  const cy = Math.floor((y - grid.minY) / grid.cellSize);
  let best = -1;
  let bestD2 = maxDistance * maxDistance;
  for (let gy = Math.max(0, cy - reach); gy <= Math.min(grid.rows - 1, cy + reach); gy += 1) {
    for (let gx = Math.max(0, cx - reach); gx <= Math.min(grid.columns - 1, cx + reach); gx += 1) {
      const cell = gy * grid.columns + gx;
      const end = grid.cellStart[cell + 1] as number;
      for (let k = grid.cellStart[cell] as number; k < end; k += 1) {
        const i = grid.cellItems[k] as number;
        const dx = (xs[i] as number) - x;
        const dy = (ys[i] as number) - y;
        const d2 = dx * dx + dy * dy;
        if (d2 <= bestD2) {
          bestD2 = d2;
          best = i;
        }
      }
    }
  }
  return best;
}
