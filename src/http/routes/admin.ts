/** Organizer read models: live on-sale figures and finding orders for support. */
import { Type } from 'typebox';
import { VenueSummaryList } from '../../catalog/schemas.js';
import { listVenues } from '../../catalog/venues.js';
import { limits } from '../../config/limits.js';
import type { AppContext } from '../../context.js';
import { AdminOrderList, OrderSearchQuery } from '../../orders/schemas.js';
import { searchOrders } from '../../orders/search.js';
import { onSaleStats } from '../../stats/onsale.js';
import { SeriesMemo, seriesSettleMs } from '../../stats/series.js';
import { OnSaleStatsCache } from '../../stats/statsCache.js';
import { displayRead } from '../../storage/replica.js';
import { OnSaleStatsSchema } from '../../stats/schemas.js';
import { adminAuth, bearerSecurity } from '../auth.js';
import { problemResponses } from '../problem.js';
import type { App } from '../types.js';

const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });

/** Organizer reads under /api/v1/admin: stats, orders, venues. */
export async function adminRoutes(app: App, ctx: AppContext): Promise<void> {
  const statsCache = new OnSaleStatsCache({
    ttlMs: ctx.config.http.statsCacheMs, maxEntries: limits.statsCacheEntries,
  });
  // A kept window must outlast the transactions stamping rows in it: a statement runs at most
  // the statement timeout (a transaction of several, longer: the memo's full read repairs it).
  const seriesMemo = new SeriesMemo(seriesSettleMs(ctx.config.pg.statementTimeoutMs));
  app.get(
    '/api/v1/admin/events/:eventId/stats',
    {
      onRequest: adminAuth(ctx),
      schema: {
        tags: ['admin'], summary: 'Live on-sale figures', security: bearerSecurity,
        description: 'Served from a per-node cache up to STATS_CACHE_MS (1 s) old; asOf '
          + 'says when the figures were computed.',
        params: EventParams,
        response: { 200: OnSaleStatsSchema, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const { eventId } = request.params;
      return await statsCache.get(eventId,
        () => displayRead(ctx,
          (db) => onSaleStats(db, ctx.coord, ctx.clock, eventId, seriesMemo)));
    },
  );
  app.get(
    '/api/v1/admin/orders',
    {
      onRequest: adminAuth(ctx),
      schema: {
        tags: ['admin'], summary: 'Find orders by order id, ticket code or customer e-mail',
        description: 'q is taken as an order id when it is a UUID, as an e-mail when it has '
          + 'an @, else as a ticket code; without q, the newest orders. Newest first. '
          + 'refundStatus=failed lists orders whose refund the provider failed (pay back by '
          + 'hand).',
        security: bearerSecurity, querystring: OrderSearchQuery,
        response: { 200: AdminOrderList, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => ({ data: await searchOrders(ctx.db, request.query) }),
  );
  app.get(
    '/api/v1/admin/venues',
    {
      onRequest: adminAuth(ctx),
      schema: {
        tags: ['admin'], summary: 'The newest venues (without layouts), for event forms',
        security: bearerSecurity,
        response: { 200: VenueSummaryList, ...problemResponses(401, 403) },
      },
    },
    async () => ({ data: await listVenues(ctx.db, limits.venueListMax) }),
  );
}
