/** TypeBox schemas for holds: request bodies are validated against them; replies follow them. */
import { Type, type Static } from 'typebox';
import { DateTime, Nullable, Uuid, ZoneKey } from '../catalog/schemas.js';
import { limits } from '../config/limits.js';

/** A seat id as clients send it: `<sectionKey>-<rowLabel>-<number>`. */
export const SeatId = Type.String({
  pattern: '^[A-Za-z0-9_]{1,40}-[A-Za-z0-9_]{1,10}-[0-9]{1,4}$', maxLength: 60,
});

export const SeatsHoldInput = Type.Object(
  {
    seats: Type.Array(SeatId, { minItems: 1, maxItems: limits.seatsPerHold, uniqueItems: true }),
  },
  { additionalProperties: false },
);

export const ZoneHoldInput = Type.Object(
  {
    zone: ZoneKey,
    quantity: Type.Integer({ minimum: 1, maximum: limits.seatsPerHold }),
  },
  { additionalProperties: false },
);

/** Either named seats, or a quantity in a zone for the server to pick. */
export const HoldInput = Type.Union([SeatsHoldInput, ZoneHoldInput]);
export type HoldInput = Static<typeof HoldInput>;

export const HoldStatus = Type.Union([
  Type.Literal('held'),
  Type.Literal('purchased'),
  Type.Literal('released'),
  Type.Literal('expired'),
]);
export type HoldStatus = Static<typeof HoldStatus>;

/** Where a ticket is and what it costs: shared by hold items and issued tickets. */
export const TicketPlaceFields = {
  /** Null for a standing unit. */
  seatId: Nullable(Type.String()),
  section: Type.String(),
  row: Nullable(Type.String()),
  number: Nullable(Type.Integer()),
  zone: Type.String(),
  /** Locked when the hold was made. */
  priceCents: Type.Integer(),
};

export const HoldItem = Type.Object({ ticketNo: Type.Integer(), ...TicketPlaceFields });
export type HoldItem = Static<typeof HoldItem>;

export const Hold = Type.Object({
  holdId: Uuid,
  eventId: Uuid,
  status: HoldStatus,
  /** The buyer's deadline to check out. */
  expiresAt: DateTime,
  /** Whether the one extension was used. */
  extended: Type.Boolean(),
  /** True when all seats are next to each other in one row (always true for one ticket). */
  adjacent: Type.Boolean(),
  items: Type.Array(HoldItem),
  totalCents: Type.Integer(),
  currency: Type.String(),
  createdAt: DateTime,
  /** True for a waitlist offer: a hold made for the customer when tickets came back. */
  offer: Type.Optional(Type.Boolean()),
});
export type Hold = Static<typeof Hold>;

export const HoldList = Type.Object({ data: Type.Array(Hold) });
export type HoldList = Static<typeof HoldList>;
