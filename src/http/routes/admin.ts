/** Organizer read models: live on-sale figures. */
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { onSaleStats } from '../../stats/onsale.js';
import { OnSaleStatsSchema } from '../../stats/schemas.js';
import { adminAuth, bearerSecurity } from '../auth.js';
import { problemResponses } from '../problem.js';
import type { App } from '../types.js';

const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });

/** GET /api/v1/admin/events/:eventId/stats. */
export async function adminRoutes(app: App, ctx: AppContext): Promise<void> {
  app.get(
    '/api/v1/admin/events/:eventId/stats',
    {
      onRequest: adminAuth(ctx),
      schema: {
        tags: ['admin'], summary: 'Live on-sale figures', security: bearerSecurity,
        params: EventParams,
        response: { 200: OnSaleStatsSchema, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => await onSaleStats(ctx.db, ctx.clock, request.params.eventId),
  );
}
