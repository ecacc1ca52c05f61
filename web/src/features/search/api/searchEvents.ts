/** The search call: text, city and a start-date range, one page at a time. */
import { api, unwrap, type Reply } from '../../../lib/api/client';

export type SearchResult = Reply<'/api/v1/events', 'get'>;
export type EventSummary = SearchResult['data'][number];

/** Filters as they appear in the page's URL (dates are local calendar days). */
export interface SearchFilters {
  q: string;
  city: string;
  from: string;
  to: string;
}

/** A local calendar day (yyyy-mm-dd) as the instant it starts or ends, in ISO form. */
function dayBound(day: string, end: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const date = end ? new Date(y, m - 1, d, 23, 59, 59, 999) : new Date(y, m - 1, d);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export async function searchEvents(
  filters: SearchFilters, cursor?: string,
): Promise<SearchResult> {
  const from = dayBound(filters.from, false);
  const to = dayBound(filters.to, true);
  return await unwrap(api.GET('/api/v1/events', {
    params: {
      query: {
        ...(filters.q.trim() ? { q: filters.q.trim() } : {}),
        ...(filters.city.trim() ? { city: filters.city.trim() } : {}),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(cursor ? { cursor } : {}),
        limit: 20,
      },
    },
  }));
}
