/**
 * Best available: which seats of a seated zone to offer for "N tickets, you choose".
 *
 * Preference, strongest first:
 *  1. N adjacent seats in one row that leave no single orphan seat beside them;
 *  2. N adjacent seats in one row even if a single seat is left over (no other choice);
 *  3. the closest split: one row with the fewest gaps, then consecutive rows of one
 *     section, then anything, best seats first.
 * Within a tier: the best section (venue order), the front row, the most central block.
 *
 * Pure and deterministic: the hold command reads the zone's free seats row by row, picks
 * here, then claims the picked seats with the guarded claim. A concurrent hold that wins
 * some of them makes the claim fail as a whole and the caller picks again.
 */

/** One row of a seated section: its length and the numbers of its free seats. */
export interface PickRow {
  sectionPosition: number;
  /** 0 = front row of its section. */
  rowIndex: number;
  /** Seats in the row, numbered 1..seatCount. */
  seatCount: number;
  /** Free seat numbers, ascending. */
  available: readonly number[];
}

/** A picked seat, by position. */
export interface PickedSeat {
  sectionPosition: number;
  rowIndex: number;
  seatNumber: number;
}

/** The pick and whether it is N adjacent seats in one row. */
export interface Pick {
  seats: PickedSeat[];
  adjacent: boolean;
}

interface Block {
  row: PickRow;
  first: number;
  orphan: boolean;
  centreDistance: number;
}

/** Runs of consecutive free seat numbers in a row: [first, last] pairs. */
export function freeRuns(available: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const seat of available) {
    const last = runs[runs.length - 1];
    if (last !== undefined && seat === last[1] + 1) last[1] = seat;
    else runs.push([seat, seat]);
  }
  return runs;
}

/** Row order: best section first, then front to back. */
function compareRows(a: PickRow, b: PickRow): number {
  return a.sectionPosition - b.sectionPosition || a.rowIndex - b.rowIndex;
}

function centreOffset(row: PickRow, first: number, last: number): number {
  return Math.abs((first + last) / 2 - (row.seatCount + 1) / 2);
}

/** True when taking [first, last] out of the run [runFirst, runLast] leaves one seat alone. */
export function leavesOrphan(
  run: readonly [number, number], first: number, last: number,
): boolean {
  return first - run[0] === 1 || run[1] - last === 1;
}

function compareBlocks(a: Block, b: Block): number {
  return Number(a.orphan) - Number(b.orphan)
    || compareRows(a.row, b.row)
    || a.centreDistance - b.centreDistance
    || a.first - b.first;
}

/** Calls `visit` for each block of `quantity` free seats of `row`, in seat order. */
function forEachBlock(
  row: PickRow, quantity: number,
  visit: (first: number, orphan: boolean, centreDistance: number) => void,
): void {
  for (const run of freeRuns(row.available)) {
    for (let first = run[0]; first + quantity - 1 <= run[1]; first++) {
      const last = first + quantity - 1;
      visit(first, leavesOrphan(run, first, last), centreOffset(row, first, last));
    }
  }
}

/**
 * The best block and, with a spread, one of the `spread` best blocks of its tier at random.
 *
 * Done by counting rather than listing: one pass finds the best block and how many blocks
 * of each tier each row has; the draw then lists the blocks of one row only. A pick under
 * contention (a spread of hundreds) used to list every block of the rows read as an object
 * and filter and slice them, which cost 0.4–2 ms of CPU per request on a 12,500-seat zone,
 * more than the rest of the request. The candidates and the draw are the same as listing
 * them would give: every block of the first rows in seat order, then the best few of the row
 * where the count runs out (compareBlocks), the draw indexing that list.
 */
function bestBlock(
  rows: readonly PickRow[], quantity: number, spread: number, random: () => number,
): Block | undefined {
  const spreading = spread > 1;
  // Blocks per row of each tier: [orphan-free, orphan].
  const counts = spreading ? new Array<[number, number]>(rows.length) : [];
  // The best block so far, kept in locals: a pick scans ~200 blocks, an object each cost
  // more than the comparisons. Rows come in row order, so once the best block leaves no
  // orphan, a later row cannot beat it: without a spread the scan stops there.
  let bestRow: PickRow | undefined;
  let bestFirst = 0;
  let bestOrphan = false;
  let bestCentre = 0;
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as PickRow;
    if (!spreading && bestRow !== undefined && !bestOrphan
      && compareRows(row, bestRow) > 0) break;
    const available = row.available;
    const centre = (row.seatCount + 1) / 2;
    let clean = 0;
    let orphans = 0;
    // The runs of consecutive free seats (freeRuns), walked in place.
    for (let start = 0; start < available.length;) {
      let end = start;
      while (end + 1 < available.length
        && (available[end + 1] as number) === (available[end] as number) + 1) end++;
      const runFirst = available[start] as number;
      const runLast = available[end] as number;
      start = end + 1;
      for (let first = runFirst; first + quantity - 1 <= runLast; first++) {
        const last = first + quantity - 1;
        const orphan = first - runFirst === 1 || runLast - last === 1;
        if (orphan) orphans++;
        else clean++;
        const centreDistance = Math.abs((first + last) / 2 - centre);
        if (bestRow === undefined || (!orphan && bestOrphan)
          || (orphan === bestOrphan && (compareRows(row, bestRow)
            || centreDistance - bestCentre || first - bestFirst) < 0)) {
          bestRow = row;
          bestFirst = first;
          bestOrphan = orphan;
          bestCentre = centreDistance;
        }
      }
    }
    if (spreading) counts[index] = [clean, orphans];
  }
  const best: Block | undefined = bestRow === undefined ? undefined
    : { row: bestRow, first: bestFirst, orphan: bestOrphan, centreDistance: bestCentre };
  if (spread <= 1 || best === undefined) return best;
  // Spread: one of the `spread` best blocks of the best tier, so buyers who lost a race for
  // the very best block do not all stampede to the same next one.
  const tier = best.orphan ? 1 : 0;
  const inTier = (index: number): number => (counts[index] as [number, number])[tier];
  // Whole rows while they fit in the spread; the row where it runs out gives its best few.
  let whole = 0;
  let before = 0;
  while (whole < rows.length && before + inTier(whole) <= spread) before += inTier(whole++);
  const partial = whole < rows.length ? Math.min(spread - before, inTier(whole)) : 0;
  let draw = Math.floor(random() * (before + partial));
  for (let index = 0; index < whole; index++) {
    if (draw >= inTier(index)) {
      draw -= inTier(index);
      continue;
    }
    return nthBlock(rows[index] as PickRow, quantity, tier === 1, draw) ?? best;
  }
  if (partial === 0) return best;
  const row = rows[whole] as PickRow;
  const blocks: Block[] = [];
  forEachBlock(row, quantity, (first, orphan, centreDistance) => {
    if (orphan === (tier === 1)) blocks.push({ row, first, orphan, centreDistance });
  });
  return blocks.sort(compareBlocks)[draw] ?? best;
}

/** The `n`th block of `row` of one tier, in seat order. */
function nthBlock(row: PickRow, quantity: number, orphan: boolean, n: number): Block | undefined {
  let found: Block | undefined;
  let seen = 0;
  forEachBlock(row, quantity, (first, blockOrphan, centreDistance) => {
    if (blockOrphan !== orphan || found !== undefined) return;
    if (seen++ === n) found = { row, first, orphan, centreDistance };
  });
  return found;
}

function seatsOf(row: PickRow, numbers: readonly number[]): PickedSeat[] {
  return numbers.map((seatNumber) => ({
    sectionPosition: row.sectionPosition, rowIndex: row.rowIndex, seatNumber,
  }));
}

function gaps(numbers: readonly number[]): number {
  let count = 0;
  for (let i = 1; i < numbers.length; i++) {
    if ((numbers[i] as number) !== (numbers[i - 1] as number) + 1) count++;
  }
  return count;
}

/** Tier 3a: N free seats of one row with the fewest gaps, then the narrowest span. */
function bestRowSplit(rows: readonly PickRow[], quantity: number): PickedSeat[] | undefined {
  let best: { row: PickRow; window: number[]; key: number[] } | undefined;
  for (const row of rows) {
    const free = row.available;
    for (let start = 0; start + quantity <= free.length; start++) {
      const window = free.slice(start, start + quantity);
      const first = window[0] as number;
      const last = window[quantity - 1] as number;
      const key = [gaps(window), last - first, row.sectionPosition, row.rowIndex,
        centreOffset(row, first, last), first];
      if (best === undefined || lexLess(key, best.key)) best = { row, window, key };
    }
  }
  return best === undefined ? undefined : seatsOf(best.row, best.window);
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y;
  }
  return false;
}

/** Free seats of a row ordered from the centre outwards. */
function centreFirst(row: PickRow): number[] {
  return [...row.available].sort((a, b) =>
    centreOffset(row, a, a) - centreOffset(row, b, b) || a - b);
}

/** Tier 3b: the fewest consecutive rows of one section, front rows first, centre seats. */
function bestRowsSplit(rows: readonly PickRow[], quantity: number): PickedSeat[] | undefined {
  let best: { picked: PickedSeat[]; span: number } | undefined;
  for (let start = 0; start < rows.length; start++) {
    const picked: PickedSeat[] = [];
    const head = rows[start] as PickRow;
    for (let i = start; i < rows.length && picked.length < quantity; i++) {
      const row = rows[i] as PickRow;
      const previous = rows[i - 1];
      const contiguous = i === start || (previous !== undefined
        && previous.sectionPosition === row.sectionPosition
        && row.rowIndex === previous.rowIndex + 1);
      if (!contiguous) break;
      const take = centreFirst(row).slice(0, quantity - picked.length).sort((a, b) => a - b);
      picked.push(...seatsOf(row, take));
    }
    if (picked.length < quantity) continue;
    const span = (picked[picked.length - 1] as PickedSeat).rowIndex - head.rowIndex;
    if (best === undefined || span < best.span) best = { picked, span };
  }
  return best?.picked;
}

/** Tier 3c: the N best free seats anywhere, row by row from the centre. */
function bestAnywhere(rows: readonly PickRow[], quantity: number): PickedSeat[] {
  const picked: PickedSeat[] = [];
  for (const row of rows) {
    if (picked.length >= quantity) break;
    const take = centreFirst(row).slice(0, quantity - picked.length).sort((a, b) => a - b);
    picked.push(...seatsOf(row, take));
  }
  return picked;
}

/** Options for picking under contention. */
export interface PickOptions {
  /** Choose at random among this many best blocks (default 1: the single best). */
  spread?: number;
  random?: () => number;
}

/** Picks `quantity` seats, or undefined when fewer are free in the whole zone. */
export function pickBestAvailable(
  rows: readonly PickRow[], quantity: number, options: PickOptions = {},
): Pick | undefined {
  if (!Number.isInteger(quantity) || quantity < 1) {
    throw new Error(`assertion failed: quantity ${quantity} must be a positive integer`);
  }
  const ordered = [...rows].sort(compareRows);
  const free = ordered.reduce((sum, row) => sum + row.available.length, 0);
  if (free < quantity) return undefined;
  const block = bestBlock(ordered, quantity, options.spread ?? 1, options.random ?? Math.random);
  if (block !== undefined) {
    const numbers = Array.from({ length: quantity }, (_, i) => block.first + i);
    return { seats: seatsOf(block.row, numbers), adjacent: true };
  }
  const seats = bestRowSplit(ordered, quantity)
    ?? bestRowsSplit(ordered, quantity)
    ?? bestAnywhere(ordered, quantity);
  return { seats, adjacent: false };
}

/** True when an adjacent pick leaves no single orphan seat in its run (tier 1). */
function leavesNoOrphan(rows: readonly PickRow[], pick: Pick): boolean {
  const first = pick.seats[0];
  if (first === undefined) return false;
  const row = rows.find((candidate) => candidate.sectionPosition === first.sectionPosition
    && candidate.rowIndex === first.rowIndex);
  if (row === undefined) return false;
  const last = first.seatNumber + pick.seats.length - 1;
  const run = freeRuns(row.available).find(([a, b]) => a <= first.seatNumber && last <= b);
  return run !== undefined && !leavesOrphan(run, first.seatNumber, last);
}

/**
 * Picks from a prefix of the zone, or undefined when only the whole zone can decide.
 *
 * `rows` are the zone's best rows (in row order) that have at least `quantity` free
 * seats, the only rows an adjacent block can be in; `complete` says no other such row
 * exists. Blocks that leave no orphan rank before all others and then by row, so if these
 * rows have one, the best one overall is here; and if they are all such rows, the best
 * block that does leave an orphan is here too. A split (no block anywhere) needs every
 * row, fuller or not: undefined.
 */
export function pickFromBestRows(
  rows: readonly PickRow[], quantity: number, complete: boolean, options: PickOptions = {},
): Pick | undefined {
  const pick = pickBestAvailable(rows, quantity, options);
  if (pick === undefined || !pick.adjacent) return undefined;
  if (complete || leavesNoOrphan(rows, pick)) return pick;
  return undefined;
}
