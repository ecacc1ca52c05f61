/**
 * The best-available picker's own CPU, without HTTP or a database: a node's zone view
 * (inventory/zoneView.ts) of a 12,500-seat zone (10 sections × 25 rows × 50 seats, the
 * holds section's zone) plans and settles `{quantity}` picks as a loaded node does, with
 * `contenders` buyers in flight (so `pickSpread` chooses among that many best blocks), until
 * the zone is sold out. Prints µs per plan for each tenth of the zone. Run with
 * `npx tsx bench/bestAvailablePicker.ts [quantity] [contenders] [contested]`: `contested`
 * spreads as when other nodes take the zone's seats (holds.ts pickSpread), otherwise the
 * view's own answer decides (one node: the single best block).
 */
import { performance } from 'node:perf_hooks';
import { pickSpread } from '../src/holds/holds.js';
import { ZoneView } from '../src/inventory/zoneView.js';
import type { Queryable } from '../src/storage/index.js';

const quantity = Number(process.argv[2] ?? 2);
const contenders = Number(process.argv[3] ?? 32);
const contested = process.argv[4] === 'contested';

const rows = Array.from({ length: 250 }, (_, i) => ({
  section_position: Math.floor(i / 25), row_index: i % 25, seat_count: 50,
  first_ticket_no: 1 + i * 50, first_seat: 1,
  available: Array.from({ length: 50 }, (_, s) => s + 1),
}));
const db = { query: async () => ({ rows, rowCount: rows.length }) } as unknown as Queryable;
const view = new ZoneView(db, 'event', 'z3', { refreshMs: Infinity });
await view.fresh(0);

const spread = pickSpread(contenders, quantity, 0, contested || view.contested);
const inFlight: { ticketNos: number[]; adjacent: boolean }[] = [];
let planned = 0;
let splits = 0;
let tenth = 0;
let t0 = performance.now();
let n0 = 0;
for (;;) {
  // `contenders` picks in flight at once; the oldest is granted before the next is planned.
  const pick = view.plan(quantity, spread);
  if (pick === undefined) break;
  planned++;
  if (!pick.adjacent) splits++;
  inFlight.push(pick);
  const oldest = inFlight.length >= contenders ? inFlight.shift() : undefined;
  if (oldest !== undefined) view.settle(oldest, { granted: true });
  const sold = (12_500 - view.freeSeats) / 12_500;
  if (sold >= (tenth + 1) / 10) {
    const us = ((performance.now() - t0) * 1000) / (planned - n0);
    console.log(`${String((tenth + 1) * 10).padStart(3)} % sold: ${us.toFixed(1)} µs per plan`);
    tenth++;
    t0 = performance.now();
    n0 = planned;
  }
}
console.log(`${planned} picks of ${quantity} (spread ${spread}), ${splits} not adjacent`);
