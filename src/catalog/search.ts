/**
 * Event search: PostgreSQL full text (weighted tsvector, GIN index, ranked) with city and
 * date filters and keyset pagination. The cursor carries the sort key of the last row, so
 * a page costs the same however deep the reader goes.
 */
import { limits } from '../config/limits.js';
import type { Clock } from '../core/clock.js';
import { invalid } from '../core/errors.js';
import type { Queryable } from '../storage/index.js';
import { loadEvents, summarize } from './events.js';
import type { SearchPage, SearchQuery } from './schemas.js';

interface Cursor {
  rank: number | null;
  startsAt: string;
  eventId: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.rank, cursor.startsAt, cursor.eventId])).toString(
    'base64url',
  );
}

function decodeCursor(raw: string, ranked: boolean): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid('/cursor', 'is not a cursor this search returned', 'querystring');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) {
    throw invalid('/cursor', 'is not a cursor this search returned', 'querystring');
  }
  const [rank, startsAt, eventId] = parsed as unknown[];
  const rankOk = ranked ? typeof rank === 'number' && Number.isFinite(rank) : rank === null;
  if (!rankOk || typeof startsAt !== 'string' || Number.isNaN(Date.parse(startsAt)) ||
      typeof eventId !== 'string' || !/^[0-9a-f-]{36}$/.test(eventId)) {
    throw invalid('/cursor', 'does not belong to this search', 'querystring');
  }
  return { rank: rank as number | null, startsAt, eventId };
}

/** Searches events; see the module comment. */
export async function searchEvents(
  db: Queryable, clock: Clock, query: SearchQuery,
): Promise<SearchPage> {
  const text = query.q?.trim() ?? '';
  const ranked = text !== '';
  const pageSize = query.limit ?? limits.pageSizeDefault;
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor, ranked);
  if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
    throw invalid('/from', 'must not be after to', 'querystring');
  }
  const params: unknown[] = [
    ranked ? text : null,
    query.city ?? null,
    query.from ?? null,
    query.to ?? null,
    cursor?.rank ?? null,
    cursor?.startsAt ?? null,
    cursor?.eventId ?? null,
    pageSize + 1,
  ];
  const rankExpr = ranked ? 'ts_rank(e.search, websearch_to_tsquery(\'english\', $1))' : 'NULL';
  const after = ranked
    ? `($5::real IS NULL OR s.rank < $5::real OR
        (s.rank = $5::real AND (s.starts_at, s.event_id) > ($6::timestamptz, $7::uuid)))`
    : `$5::real IS NULL AND
       ($6::timestamptz IS NULL OR (s.starts_at, s.event_id) > ($6::timestamptz, $7::uuid))`;
  const { rows } = await db.query<{ event_id: string; starts_at: Date; rank: number | null }>(
    `SELECT s.event_id, s.starts_at, s.rank FROM (
       SELECT e.event_id, e.starts_at, (${rankExpr})::real AS rank
         FROM events e
        WHERE e.cancelled_at IS NULL
          AND ($1::text IS NULL OR e.search @@ websearch_to_tsquery('english', $1))
          AND ($2::text IS NULL OR lower(e.city) = lower($2))
          AND ($3::timestamptz IS NULL OR e.starts_at >= $3)
          AND ($4::timestamptz IS NULL OR e.starts_at < $4)
     ) s
     WHERE ${after}
     ORDER BY ${ranked ? 's.rank DESC,' : ''} s.starts_at, s.event_id
     LIMIT $8`,
    params,
  );
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextCursor = rows.length > pageSize && last !== undefined
    ? encodeCursor({ rank: last.rank, startsAt: last.starts_at.toISOString(), eventId: last.event_id })
    : null;
  const events = await loadEvents(db, page.map((row) => row.event_id));
  return { data: await summarize(db, clock, events), nextCursor };
}
