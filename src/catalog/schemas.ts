/**
 * TypeBox schemas for the catalog: request bodies are validated against them and the
 * OpenAPI document is generated from them. Types for domain code come from the same source.
 */
import { Type, type Static, type TSchema, type TUnsafe } from 'typebox';
import { limits } from '../config/limits.js';

/** Section keys and row labels end up inside seat ids (`A-1-7`), so they exclude '-'. */
export const SectionKey = Type.String({ pattern: '^[A-Za-z0-9_]{1,40}$', maxLength: 40 });
export const RowLabel = Type.String({ pattern: '^[A-Za-z0-9_]{1,10}$', maxLength: 10 });
export const ZoneKey = Type.String({ pattern: '^[A-Za-z0-9_]{1,40}$', maxLength: 40 });
const Name = Type.String({ minLength: 1, maxLength: limits.nameLength });
export const Uuid = Type.String({ format: 'uuid', maxLength: 36 });

/**
 * A schema that also admits null (TypeBox has no shorthand for it). A schema of one plain
 * type becomes `type: [T, 'null']` (JSON Schema, OpenAPI 3.1), which the reply serializer
 * (fast-json-stringify) compiles to a typeof test; as `anyOf` it checked the value with Ajv
 * on every reply, ~0.3 ms per order. Unions and constants stay `anyOf` with null.
 */
export const Nullable = <T extends TSchema>(schema: T): TUnsafe<Static<T> | null> => {
  const plain = schema as { type?: unknown; const?: unknown; enum?: unknown };
  if (typeof plain.type === 'string' && plain.const === undefined && plain.enum === undefined) {
    return Type.Unsafe<Static<T> | null>({ ...schema, type: [plain.type, 'null'] });
  }
  return Type.Unsafe<Static<T> | null>(Type.Union([schema, Type.Null()]));
};
export const DateTime = Type.String({ format: 'date-time', maxLength: 40 });

const Coordinate = Type.Number({ minimum: -limits.layoutExtent, maximum: limits.layoutExtent });
const Extent = Type.Number({ minimum: 1, maximum: limits.layoutExtent });

/**
 * Optional drawing hints for a section; seat maps fall back to their own arrangement
 * without them. The plane's unit is one seat pitch (neighbouring seats and rows are one
 * unit apart); the stage is toward negative y.
 */
export const SectionLayout = Type.Object(
  {
    x: Coordinate,
    y: Coordinate,
    rotationDeg: Type.Optional(Type.Number({ minimum: -360, maximum: 360 })),
    curve: Type.Optional(Type.Number({ minimum: 0, maximum: 180 })),
    width: Type.Optional(Extent),
    depth: Type.Optional(Extent),
  },
  {
    additionalProperties: false,
    description: 'Drawing hints. (x, y): centre of the front edge (a seated section\'s first '
      + 'row). Unrotated, rows run along +x with seat 1 leftmost and later rows at +y, one '
      + 'unit apart; rotationDeg (default 0) turns the section clockwise about (x, y), so '
      + 'it faces a stage at its -y side. curve (degrees, default 0 = straight rows) is '
      + 'the arc the first row spans: rows are then concentric arcs about a centre on the '
      + 'stage side, radius r0 = (seats in the first row - 1) / curve in radians, '
      + 'growing by one unit per row, seats one unit apart along each arc, centred. '
      + 'width and depth (units) size a standing area\'s rectangle behind its front edge '
      + '(default: a square of its capacity).',
  },
);
export type SectionLayout = Static<typeof SectionLayout>;

export const SeatedSectionInput = Type.Object(
  {
    key: SectionKey,
    name: Name,
    kind: Type.Literal('seated'),
    layout: Type.Optional(SectionLayout),
    rows: Type.Array(
      Type.Object(
        { label: RowLabel, seats: Type.Integer({ minimum: 1, maximum: limits.seatsPerRow }) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: limits.rowsPerSection },
    ),
  },
  { additionalProperties: false },
);

export const StandingSectionInput = Type.Object(
  {
    key: SectionKey,
    name: Name,
    kind: Type.Literal('standing'),
    layout: Type.Optional(SectionLayout),
    capacity: Type.Integer({ minimum: 1, maximum: limits.standingCapacity }),
  },
  { additionalProperties: false },
);

/** A section is seated (rows of numbered seats) or standing (a capacity of units). */
export const SectionInput = Type.Unsafe<
  Static<typeof SeatedSectionInput> | Static<typeof StandingSectionInput>
>({
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [SeatedSectionInput, StandingSectionInput],
});

export const VenueInput = Type.Object(
  {
    name: Name,
    city: Type.String({ minLength: 1, maxLength: 100 }),
    sections: Type.Array(SectionInput, { minItems: 1, maxItems: limits.sectionsPerVenue }),
  },
  { additionalProperties: false },
);
export type VenueInput = Static<typeof VenueInput>;
export type SectionInput = Static<typeof SectionInput>;

export const Venue = Type.Object({
  venueId: Uuid,
  name: Type.String(),
  city: Type.String(),
  capacity: Type.Integer(),
  sections: Type.Array(SectionInput),
});
export type Venue = Static<typeof Venue>;

export const VenueSummaryList = Type.Object({
  data: Type.Array(Type.Object({
    venueId: Uuid, name: Type.String(), city: Type.String(), capacity: Type.Integer(),
    createdAt: DateTime,
  })),
});

export const QueueSettingsInput = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: false })),
    admitPerMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 })),
    maxActiveShoppers: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
    ),
    passSeconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 7_200, default: 900 })),
    proofOfWork: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

export const QueueSettings = Type.Object({
  enabled: Type.Boolean(),
  admitPerMinute: Type.Integer(),
  maxActiveShoppers: Type.Integer(),
  passSeconds: Type.Integer(),
  proofOfWork: Type.Boolean(),
});
export type QueueSettings = Static<typeof QueueSettings>;

export const ZoneInput = Type.Object(
  {
    key: ZoneKey,
    name: Name,
    priceCents: Type.Integer({ minimum: 0, maximum: limits.priceCentsMax }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    sections: Type.Array(SectionKey, { minItems: 1, maxItems: limits.sectionsPerVenue }),
  },
  { additionalProperties: false },
);

export const EventInput = Type.Object(
  {
    venueId: Uuid,
    title: Name,
    description: Type.Optional(Type.String({ maxLength: limits.descriptionLength, default: '' })),
    performers: Type.Optional(
      Type.Array(Name, { maxItems: limits.performersPerEvent, default: [] }),
    ),
    startsAt: DateTime,
    onSaleAt: DateTime,
    zones: Type.Array(ZoneInput, { minItems: 1, maxItems: limits.zonesPerEvent }),
    holdSeconds: Type.Optional(
      Type.Integer({ minimum: limits.holdSecondsMin, maximum: limits.holdSecondsMax, default: 600 }),
    ),
    holdExtensionSeconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: limits.holdExtensionSecondsMax, default: 300 }),
    ),
    maxTicketsPerCustomer: Type.Optional(
      Type.Integer({ minimum: 1, maximum: limits.maxTicketsPerCustomerMax, default: 8 }),
    ),
    queue: Type.Optional(QueueSettingsInput),
  },
  { additionalProperties: false },
);
export type EventInput = Static<typeof EventInput>;

export const EventStatus = Type.Union([
  Type.Literal('scheduled'),
  Type.Literal('on_sale'),
  Type.Literal('sold_out'),
  Type.Literal('ended'),
  Type.Literal('cancelled'),
]);
export type EventStatus = Static<typeof EventStatus>;

export const ZoneAvailability = Type.Object({
  key: Type.String(),
  name: Type.String(),
  priceCents: Type.Integer(),
  currency: Type.String(),
  sections: Type.Array(Type.String()),
  capacity: Type.Integer(),
  available: Type.Integer(),
  held: Type.Integer(),
  sold: Type.Integer(),
});
export type ZoneAvailability = Static<typeof ZoneAvailability>;

export const EventSummary = Type.Object({
  eventId: Uuid,
  venueId: Uuid,
  title: Type.String(),
  description: Type.String(),
  performers: Type.Array(Type.String()),
  venueName: Type.String(),
  city: Type.String(),
  startsAt: DateTime,
  onSaleAt: DateTime,
  status: EventStatus,
  capacity: Type.Integer(),
  zones: Type.Array(ZoneAvailability),
});
export type EventSummary = Static<typeof EventSummary>;

export const EventDetails = Type.Object({
  ...EventSummary.properties,
  holdSeconds: Type.Integer(),
  holdExtensionSeconds: Type.Integer(),
  maxTicketsPerCustomer: Type.Integer(),
  queue: QueueSettings,
});
export type EventDetails = Static<typeof EventDetails>;

export const SearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: limits.searchQueryLength })),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    from: Type.Optional(DateTime),
    to: Type.Optional(DateTime),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: limits.pageSizeMax, default: limits.pageSizeDefault }),
    ),
    cursor: Type.Optional(Type.String({ maxLength: 400 })),
  },
  { additionalProperties: false },
);
export type SearchQuery = Static<typeof SearchQuery>;

export const SearchPage = Type.Object({
  data: Type.Array(EventSummary),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type SearchPage = Static<typeof SearchPage>;

export const SeatStatus = Type.Union([
  Type.Literal('available'),
  Type.Literal('held'),
  Type.Literal('sold'),
]);
export type SeatStatus = Static<typeof SeatStatus>;

export const SeatMap = Type.Object({
  eventId: Uuid,
  /** Live-feed version the map reflects; live deltas with a higher version apply on top. */
  version: Type.Integer(),
  sections: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Type.String(),
      kind: Type.Union([Type.Literal('seated'), Type.Literal('standing')]),
      zone: Type.String(),
      capacity: Type.Integer(),
      available: Type.Integer(),
      rows: Type.Array(
        Type.Object({
          label: Type.String(),
          seats: Type.Array(
            Type.Object({ id: Type.String(), number: Type.Integer(), status: SeatStatus }),
          ),
        }),
      ),
    }),
  ),
});
export type SeatMap = Static<typeof SeatMap>;
