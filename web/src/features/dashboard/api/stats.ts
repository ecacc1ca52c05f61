/** The on-sale figures, read with the organizer's admin token. */
import { unwrap, type Reply } from '../../../lib/api/client';
import { adminApi } from '../../organizer';

export type OnSaleStats = Reply<'/api/v1/admin/events/{eventId}/stats', 'get'>;

export async function fetchStats(eventId: string): Promise<OnSaleStats> {
  return await unwrap(adminApi.GET('/api/v1/admin/events/{eventId}/stats', {
    params: { path: { eventId } },
  }));
}
