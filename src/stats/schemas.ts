/** Schema of the on-sale figures (the reply of GET /admin/events/:eventId/stats). */
import { Type } from 'typebox';

const Count = Type.Integer({ minimum: 0 });

export const OnSaleStatsSchema = Type.Object({
  eventId: Type.String(),
  asOf: Type.String({ format: 'date-time' }),
  queue: Type.Object({
    enabled: Type.Boolean(), joined: Count, preQueue: Count,
    waiting: Type.Integer({ minimum: 0, description: 'Everyone in line: joined, not admitted, '
      + 'not gone (the pre-queue included)' }),
    servedUpTo: Count, admitted: Count, activeShoppers: Count,
    admissionsPerMinute: Type.Number(), soldOut: Type.Boolean(),
    closedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    left: Count, movedToWaitlist: Count,
    freed: Type.Object({ order: Count, left: Count, idle: Count, lapsed: Count }, {
      description: 'Shopper slots freed before their pass ran out (order complete, given ' +
        'back, idle) and slots that lapsed by time (claim grace or pass expiry)',
    }),
    storePace: Type.Object({
      factor: Type.Number({ minimum: 0, maximum: 1 }),
      storeWaitMs: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
      refusing: Type.Boolean(),
      liveCap: Count,
    }, {
      description: 'Store-paced admission as of the last tick: the share of admitPerMinute ' +
        'admitted at (1: not slowed), the hold queue wait a store node reported (null: ' +
        'none, healthy), whether a store node refused holds as busy (503), and the ' +
        'live-shopper cap admitted against (maxActiveShoppers × factor, never below one ' +
        'tick\'s admissions; maxActiveShoppers when not slowed)',
    }),
  }),
  tickets: Type.Object({ capacity: Count, available: Count, held: Count, sold: Count }),
  activeHolds: Count,
  orders: Type.Object({ confirmed: Count, pendingPayment: Count, paymentFailed: Count,
    cancelled: Count }),
  revenueCents: Count,
  currency: Type.String(),
  lastMinute: Type.Object({ holds: Count, ticketsSold: Count, orders: Count }, {
    description: 'The last six windows of the series (the open one and five before it), as '
      + 'holdLatency; sales and orders by confirmation time' }),
  holdLatency: Type.Object({
    samples: Count,
    latencyMsP50: Type.Union([Type.Number(), Type.Null()]),
    latencyMsP99: Type.Union([Type.Number(), Type.Null()]),
  }, { description: 'Hold request latency over the last minute, across every node '
    + '(histogram quantiles, linear within a bucket); null without samples.' }),
  series: Type.Object({
    stepSeconds: Count,
    points: Type.Array(Type.Object({
      at: Type.String({ format: 'date-time' }),
      holds: Count, ticketsSold: Count, orders: Count, revenueCents: Count,
      joined: Count, admitted: Count,
      queueLength: Type.Integer({ minimum: 0, description: 'Fans in line (pre-queue and '
        + 'waiting) at the window\'s end, walked back from queue.waiting by the later '
        + 'windows\' joins, admissions and departures' }),
      activeHolds: Type.Integer({ minimum: 0, description: 'Holds live at the window\'s '
        + 'end, walked back from activeHolds by the later windows\' holds made and ended' }),
      holdLatencyMsP99: Type.Union([Type.Number(), Type.Null()]),
    })),
  }, { description: 'The last two minutes in windows of stepSeconds, oldest first (the last '
    + 'window is the current one, still open): a dashboard opened mid-sale starts its charts '
    + 'from it, then appends what it polls. Read from the tables; a node keeps the windows '
    + 'that closed longer ago than the statement timeout plus 10 s (25 s by default; on a '
    + 'standby, before its last replayed commit) and reads them all again once a minute, so '
    + 'a row written late into a kept window shows within a minute.' }),
});
