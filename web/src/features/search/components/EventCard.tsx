/** One search result: title, when and where, status and the lowest price still available. */
import { Link } from 'wouter';
import { copy } from '../../../lib/copy';
import { formatCount, formatDateTime, formatMoney } from '../../../lib/format';
import { paths } from '../../../lib/paths';
import type { EventSummary } from '../api/searchEvents';

function cheapest(event: EventSummary): string | undefined {
  const open = event.zones.filter((zone) => zone.available > 0);
  const pool = open.length > 0 ? open : event.zones;
  const zone = pool.reduce<EventSummary['zones'][number] | undefined>(
    (best, z) => (best === undefined || z.priceCents < best.priceCents ? z : best), undefined);
  return zone === undefined ? undefined : formatMoney(zone.priceCents, zone.currency);
}

export function EventCard({ event }: { event: EventSummary }) {
  const available = event.zones.reduce((sum, zone) => sum + zone.available, 0);
  const price = cheapest(event);
  const headingId = `event-${event.eventId}`;
  return (
    <li className="card event-card" aria-labelledby={headingId}>
      <div className="event-card-date">
        <time dateTime={event.startsAt}>{formatDateTime(event.startsAt)}</time>
      </div>
      <h2 id={headingId} className="event-card-title">
        <Link href={paths.event(event.eventId)}>{event.title}</Link>
      </h2>
      <p className="muted">{event.venueName} · {event.city}</p>
      {event.performers.length > 0 && <p className="muted small">{event.performers.join(', ')}</p>}
      <p className="event-card-meta">
        <span className={`badge status-${event.status}`}>
          {copy.status[event.status] ?? event.status}
        </span>
        {price !== undefined && <span>{copy.search.from_price(price)}</span>}
        {event.status === 'on_sale' && <span>{copy.search.available(formatCount(available))}</span>}
      </p>
    </li>
  );
}
