/** An event: details, price zones with live availability, and the way in to buy. */
import { useParams } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { copy } from '../../../lib/copy';
import { formatCount, formatDateTime, formatMoney } from '../../../lib/format';
import { useAsync } from '../../../lib/useAsync';
import { loadEvent } from '../api/event';

export function EventPage() {
  const { eventId = '' } = useParams<{ eventId: string }>();
  const event = useAsync(() => loadEvent(eventId), [eventId]);
  if (event.data === undefined) {
    return event.loading ? <Spinner /> : <ProblemMessage error={event.error} />;
  }
  const details = event.data;
  return (
    <section className="page">
      <PageTitle title={details.title} />
      <p className="muted">
        <time dateTime={details.startsAt}>{formatDateTime(details.startsAt)}</time>
        {' · '}{details.venueName}, {details.city}
      </p>
      <p className={`badge status-${details.status}`}>{copy.status[details.status]}</p>
      {details.description && <p>{details.description}</p>}
      <ul className="zone-list">
        {details.zones.map((zone) => (
          <li key={zone.key}>
            <strong>{zone.name}</strong> {formatMoney(zone.priceCents, zone.currency)}
            {' · '}{copy.search.available(formatCount(zone.available))}
          </li>
        ))}
      </ul>
    </section>
  );
}
