/**
 * Factories for test data, through the same domain commands the API uses. Every factory
 * takes overrides so a test states only what it cares about.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AppContext } from '../context.js';
import { createEvent, loadEvent, type EventRecord } from '../catalog/events.js';
import type { EventDetails, EventInput, Venue, VenueInput } from '../catalog/schemas.js';
import { createVenue } from '../catalog/venues.js';
import { registerCustomer } from '../customers/accounts.js';
import { createHold } from '../holds/holds.js';
import type { Hold, HoldInput } from '../holds/schemas.js';
import type { Db, Queryable } from '../storage/index.js';

const hourMs = 3600 * 1000;

/** A small venue: one seated section A (rows 1..rows of seatsPerRow) and a standing FLOOR. */
export function venueInput(overrides: Partial<VenueInput> & {
  rows?: number; seatsPerRow?: number; standing?: number;
} = {}): VenueInput {
  const { rows = 5, seatsPerRow = 10, standing = 100, ...rest } = overrides;
  return {
    name: 'Test Hall',
    city: 'Testville',
    sections: [
      {
        key: 'A', name: 'Section A', kind: 'seated',
        rows: Array.from({ length: rows }, (_, i) => ({ label: String(i + 1), seats: seatsPerRow })),
      },
      { key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: standing },
    ],
    ...rest,
  };
}

/** Creates a venue (see venueInput for the default layout). */
export async function buildVenue(
  ctx: AppContext, overrides: Parameters<typeof venueInput>[0] = {},
): Promise<Venue> {
  return await createVenue(ctx.db, venueInput(overrides));
}

/** Creates an event on sale now; without a venue, builds the default one. */
export async function buildEvent(
  ctx: AppContext,
  overrides: Partial<EventInput> & { venue?: Venue } = {},
): Promise<EventDetails> {
  const { venue: given, ...rest } = overrides;
  const venue = given ?? (await buildVenue(ctx));
  const now = ctx.clock.nowMs();
  const seated = venue.sections.filter((s) => s.kind === 'seated').map((s) => s.key);
  const standing = venue.sections.filter((s) => s.kind === 'standing').map((s) => s.key);
  const zones = [
    ...(seated.length > 0
      ? [{ key: 'seats', name: 'Seats', priceCents: 5_000, currency: 'EUR', sections: seated }]
      : []),
    ...(standing.length > 0
      ? [{ key: 'floor', name: 'Floor', priceCents: 3_000, currency: 'EUR', sections: standing }]
      : []),
  ];
  return await createEvent(ctx.db, ctx.clock, {
    venueId: venue.venueId,
    title: 'Test Concert',
    startsAt: new Date(now + 30 * 24 * hourMs).toISOString(),
    onSaleAt: new Date(now - 60_000).toISOString(),
    zones,
    ...rest,
  });
}

/**
 * A queued event on sale since a minute ago, loaded as the queue code takes it. The
 * default line admits at once (6,000 a minute, 10 live shoppers); `queue` overrides that.
 */
export async function buildQueuedEvent(
  ctx: AppContext, queue: { admitPerMinute?: number; maxActiveShoppers?: number } = {},
): Promise<EventRecord> {
  const details = await buildEvent(ctx, {
    onSaleAt: new Date(ctx.clock.nowMs() - 60_000).toISOString(),
    queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 10, ...queue },
  });
  return await loadEvent(ctx.db, details.eventId);
}

/** Registers a customer and returns its id and a bearer token. */
export async function buildCustomer(
  ctx: AppContext, overrides: { email?: string; name?: string; password?: string } = {},
): Promise<{ customerId: string; token: string; email: string; password: string }> {
  const email = overrides.email ?? `fan-${randomBytes(6).toString('hex')}@example.com`;
  const password = overrides.password ?? 'correct horse battery';
  const customerId = await registerCustomer(ctx.db, {
    email, name: overrides.name ?? 'Test Fan', password,
  });
  return { customerId, token: ctx.tokens.issue(customerId), email, password };
}

/** Authorization header for a customer token. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/**
 * Inserts `count` bare customer rows in one statement (no password hashing: they never log
 * in) and returns their ids; for tests that need only someone to own a row.
 */
export async function insertCustomerRows(db: Queryable, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await db.query(
    `INSERT INTO customers (customer_id, email, name, password_hash)
     SELECT id, 'bulk-' || id || '@example.com', 'Bulk Fan', 'none'
       FROM unnest($1::uuid[]) AS id`,
    [ids],
  );
  return ids;
}

/**
 * Registers `count` customers in one statement (see insertCustomerRows) and returns their
 * ids and tokens; for load and concurrency tests.
 */
export async function buildCustomers(
  ctx: AppContext, count: number,
): Promise<{ customerId: string; token: string }[]> {
  const ids = await insertCustomerRows(ctx.db, count);
  return ids.map((customerId) => ({ customerId, token: ctx.tokens.issue(customerId) }));
}

/**
 * Runs a hold's timer out a second ago without any sweep: its tickets are available on
 * committed state at once (lazy expiry), while the hold still reads `held`.
 */
export async function lapseHold(db: Db, holdId: string): Promise<void> {
  await db.tx(async (tx) => {
    await tx.query(`UPDATE holds SET expires_at = now() - interval '1 second',
                                     claim_expires_at = now() - interval '1 second'
                     WHERE hold_id = $1`, [holdId]);
    await tx.query(`UPDATE tickets SET hold_expires_at = now() - interval '1 second'
                     WHERE hold_id = $1`, [holdId]);
  });
}

/** Creates a hold through the domain command (the event must be on sale). */
export async function buildHold(
  ctx: AppContext, eventId: string, customerId: string, input: HoldInput,
): Promise<Hold> {
  return await createHold(ctx.db, await loadEvent(ctx.db, eventId), customerId, input);
}
