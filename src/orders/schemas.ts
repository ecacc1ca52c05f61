/** TypeBox schemas for checkout, orders and check-in. */
import { Type, type Static } from 'typebox';
import { DateTime, Nullable, Uuid } from '../catalog/schemas.js';
import { limits } from '../config/limits.js';
import { TicketPlaceFields } from '../holds/schemas.js';

export const CheckoutInput = Type.Object(
  {
    /** A simulated method (`sim_ok`, …) or the provider's payment method id. */
    paymentMethod: Type.String({ pattern: '^[A-Za-z0-9_]{1,100}$', maxLength: 100 }),
  },
  { additionalProperties: false },
);
export type CheckoutInput = Static<typeof CheckoutInput>;

export const OrderStatus = Type.Union([
  Type.Literal('pending_payment'),
  Type.Literal('confirmed'),
  Type.Literal('payment_failed'),
  Type.Literal('cancelled'),
]);
export type OrderStatus = Static<typeof OrderStatus>;

export const OrderTicket = Type.Object({
  ticketId: Uuid,
  ...TicketPlaceFields,
  /** What the door scans: 128 random bits, base64url. */
  code: Type.String(),
  status: Type.Union([Type.Literal('valid'), Type.Literal('cancelled')]),
  checkedInAt: Nullable(DateTime),
});
export type OrderTicket = Static<typeof OrderTicket>;

export const PaymentView = Type.Object({
  paymentId: Uuid,
  provider: Type.String(),
  method: Type.String(),
  status: Type.Union([
    Type.Literal('pending'), Type.Literal('captured'), Type.Literal('declined'),
  ]),
  amountCents: Type.Integer(),
  declineReason: Nullable(Type.String()),
  /**
   * While the payment is pending and the buyer must act (3-D Secure): finish it in the
   * browser with stripe.js `handleNextAction({ clientSecret })` (or send the buyer to
   * `redirectUrl`), then wait for the order to confirm. Null otherwise.
   */
  nextAction: Nullable(Type.Object({
    type: Type.Union([Type.Literal('use_stripe_sdk'), Type.Literal('redirect_to_url')]),
    clientSecret: Type.String(),
    redirectUrl: Nullable(Type.String()),
  })),
  refund: Nullable(Type.Object({
    refundId: Uuid,
    /** `failed`: the provider could not return the money; an operator must act. */
    status: Type.Union([Type.Literal('requested'), Type.Literal('succeeded'),
      Type.Literal('failed')]),
    reason: Type.String(),
    amountCents: Type.Integer(),
    /** The provider's reason when the refund failed. */
    failureReason: Nullable(Type.String()),
  })),
});
export type PaymentView = Static<typeof PaymentView>;

export const Order = Type.Object({
  orderId: Uuid,
  eventId: Uuid,
  holdId: Uuid,
  status: OrderStatus,
  totalCents: Type.Integer(),
  currency: Type.String(),
  /** Why the order failed (payment_failed only). */
  failureReason: Nullable(Type.String()),
  createdAt: DateTime,
  confirmedAt: Nullable(DateTime),
  cancelledAt: Nullable(DateTime),
  payment: Nullable(PaymentView),
  tickets: Type.Array(OrderTicket),
});
export type Order = Static<typeof Order>;

export const OrderList = Type.Object({ data: Type.Array(Order) });
export type OrderList = Static<typeof OrderList>;

export const CheckinInput = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: limits.ticketCodeLength }) },
  { additionalProperties: false },
);
export type CheckinInput = Static<typeof CheckinInput>;

export const Checkin = Type.Object({
  ticketId: Uuid,
  orderId: Uuid,
  eventId: Uuid,
  seatId: Nullable(Type.String()),
  section: Type.String(),
  row: Nullable(Type.String()),
  number: Nullable(Type.Integer()),
  zone: Type.String(),
  checkedInAt: DateTime,
});
export type Checkin = Static<typeof Checkin>;

export const OrderSearchQuery = Type.Object(
  {
    /** An order id, a ticket code or a customer's e-mail; empty lists the newest orders. */
    q: Type.Optional(Type.String({ maxLength: limits.orderSearchQueryLength })),
    eventId: Type.Optional(Uuid),
    /** Only orders whose refund is in this state (`failed`: refunds an operator must settle). */
    refundStatus: Type.Optional(Type.Union([Type.Literal('requested'),
      Type.Literal('succeeded'), Type.Literal('failed')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.orderSearchMax,
      default: 20 })),
  },
  { additionalProperties: false },
);
export type OrderSearchQuery = Static<typeof OrderSearchQuery>;

/** An order as support sees it: with the buyer, so a caller can be matched to it. */
export const AdminOrder = Type.Object({
  ...Order.properties,
  customer: Type.Object({ customerId: Uuid, email: Type.String(), name: Type.String() }),
});
export type AdminOrder = Static<typeof AdminOrder>;

export const AdminOrderList = Type.Object({ data: Type.Array(AdminOrder) });
export type AdminOrderList = Static<typeof AdminOrderList>;

export const CheckinTokenInput = Type.Object(
  {
    /** Who or what holds it ("north gate scanner 2"), so it can be found and revoked. */
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    validHours: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.checkinTokenHoursMax,
      default: 48 })),
  },
  { additionalProperties: false },
);
export type CheckinTokenInput = Static<typeof CheckinTokenInput>;

export const CheckinToken = Type.Object({
  tokenId: Uuid,
  eventId: Uuid,
  label: Type.String(),
  createdAt: DateTime,
  expiresAt: DateTime,
  revokedAt: Nullable(DateTime),
});
export type CheckinToken = Static<typeof CheckinToken>;

/** The reply to creating a check-in token: the only time the token itself is shown. */
export const CreatedCheckinToken = Type.Object({
  ...CheckinToken.properties,
  token: Type.String(),
});

export const CheckinTokenList = Type.Object({ data: Type.Array(CheckinToken) });

/** The door's tally, for the check-in page. */
export const DoorTally = Type.Object({
  eventId: Uuid,
  title: Type.String(),
  startsAt: DateTime,
  /** Valid tickets issued for the event. */
  valid: Type.Integer(),
  /** Of those, scanned in. */
  checkedIn: Type.Integer(),
});
export type DoorTally = Static<typeof DoorTally>;
