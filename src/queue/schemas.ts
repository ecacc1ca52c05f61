/** TypeBox schemas of the waiting room's requests and replies (validation and OpenAPI). */
import { Type, type Static } from 'typebox';

export const QueueStateSchema = Type.Union([
  Type.Literal('pre_queue'), Type.Literal('waiting'), Type.Literal('admitted'),
  Type.Literal('expired'), Type.Literal('sold_out'), Type.Literal('left'),
]);

const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);

/** A fan's view of the line: the join reply, `queue/me`, and every SSE message. */
export const QueueViewSchema = Type.Object({
  state: QueueStateSchema,
  number: NullableInteger,
  position: NullableInteger,
  etaSeconds: NullableInteger,
  servedUpTo: Type.Integer(),
  pass: Type.Optional(Type.String()),
  passExpiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  claimBy: Type.Optional(Type.String({
    format: 'date-time',
    description: 'Admitted, pass not used yet: place a first hold with it by then, or the ' +
      'slot goes to the next fan',
  })),
  tickets: Type.Optional(Type.Object({
    available: Type.Integer({ description: 'Free to hold now' }),
    inCarts: Type.Integer({ description: 'In live holds; some may come back' }),
    together: Type.Optional(Type.Integer({
      description: 'Near the end of the sale: the most tickets one fan can still get ' +
        'together (seats side by side in a row, or standing), up to the per-customer limit; ' +
        '1 means only single seats are left',
    })),
  }, { description: 'Tickets left, as the last admission tick saw them' })),
  outlook: Type.Optional(Type.Union([
    Type.Literal('open'), Type.Literal('in_carts'), Type.Literal('unlikely'),
    Type.Literal('sold_out'),
  ], {
    description: 'open: tickets left for the fans ahead (etaSeconds is set once the line ' +
      'has a pace); in_carts: what is left for this fan is in someone\'s cart (any free ' +
      'tickets go to the fans ahead), no time can be promised; unlikely: what is left cannot serve the fans ahead (too few tickets, or ' +
      'not enough together for the groups fans take); sold_out',
  })),
  waitlistUrl: Type.Optional(Type.String({
    description: 'POST here to move from the line to the waitlist in one step',
  })),
  leftReason: Type.Optional(Type.Union([
    Type.Literal('left'), Type.Literal('waitlist'), Type.Literal('purchased'),
  ], {
    description: 'Why the fan is out of the line. Always on a `left` view: `left` (they ' +
      'left), `waitlist` (they moved to the waitlist), `purchased` (their order for the ' +
      'event completed while they waited). On an `expired` view only as `purchased`: their ' +
      'own completed order freed the slot, so the turn ended because they bought',
  })),
});

/** The optional body of leaving the line: nothing, or an empty object. */
export const LeaveBody = Type.Union([
  Type.Object({}, { additionalProperties: false }),
  Type.Null(),
]);

/** The join body: optional, and then only the proof of work (base64 ALTCHA payload). */
export const JoinBody = Type.Union([
  Type.Object(
    { proofOfWork: Type.Optional(Type.String({ minLength: 1, maxLength: 2_000 })) },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
export type JoinBody = Static<typeof JoinBody>;

/** An ALTCHA challenge, as the widget expects it. */
export const ChallengeSchema = Type.Object({
  algorithm: Type.String(),
  challenge: Type.String(),
  maxnumber: Type.Optional(Type.Integer()),
  salt: Type.String(),
  signature: Type.String(),
});
