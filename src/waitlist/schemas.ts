/** TypeBox schemas for the waitlist: the join body is validated against them; replies follow. */
import { Type, type Static } from 'typebox';
import { DateTime, Nullable, Uuid, ZoneKey } from '../catalog/schemas.js';
import { limits } from '../config/limits.js';

export const WaitlistJoinInput = Type.Object(
  {
    /** The zone wanted; without it, any zone (an offer's tickets come from one zone). */
    zone: Type.Optional(ZoneKey),
    quantity: Type.Integer({ minimum: 1, maximum: limits.waitlistQuantityMax }),
  },
  { additionalProperties: false },
);
export type WaitlistJoinInput = Static<typeof WaitlistJoinInput>;

export const WaitlistStatus = Type.Union([
  Type.Literal('waiting'),
  Type.Literal('offered'),
  Type.Literal('fulfilled'),
  Type.Literal('left'),
  /** The event was cancelled or has started: nothing more will be offered. */
  Type.Literal('closed'),
]);
export type WaitlistStatus = Static<typeof WaitlistStatus>;

export const WaitlistEntry = Type.Object({
  eventId: Uuid,
  /** Null: any zone. */
  zone: Nullable(ZoneKey),
  quantity: Type.Integer(),
  /** 1 = next to be offered; null unless waiting. */
  position: Nullable(Type.Integer()),
  status: WaitlistStatus,
  /** The offer (a hold listed in /me/holds with offer: true) while status is offered. */
  holdId: Type.Optional(Uuid),
  offerExpiresAt: Type.Optional(DateTime),
  createdAt: DateTime,
});
export type WaitlistEntry = Static<typeof WaitlistEntry>;

export const WaitlistList = Type.Object({ data: Type.Array(WaitlistEntry) });
