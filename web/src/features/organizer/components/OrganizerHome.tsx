/** The organizer's start page: what to do next, and every event with its tools. */
import { Link } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { copy } from '../../../lib/copy';
import { formatCount, formatDateTime } from '../../../lib/format';
import { organizerPaths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { listEvents } from '../api/organizer';
import { AdminSignOut } from './AdminGate';

export function OrganizerHome() {
  const text = copy.organizer.home;
  const events = useAsync(listEvents, []);
  return (
    <section className="page organizer">
      <div className="row spread">
        <PageTitle title={text.title} />
        <AdminSignOut />
      </div>
      <nav className="row" aria-label={text.actions}>
        <Link href={organizerPaths.newVenue()} className="button">{text.newVenue}</Link>
        <Link href={organizerPaths.newEvent()} className="button secondary">{text.newEvent}</Link>
        <Link href={organizerPaths.orders()} className="button secondary">{text.orders}</Link>
      </nav>
      <h2>{text.events}</h2>
      <ProblemMessage error={events.error} />
      {events.loading && events.data === undefined && <Spinner />}
      {events.data?.length === 0 && <p className="muted">{text.noEvents}</p>}
      <ul className="organizer-events">
        {events.data?.map((event) => {
          const sold = event.zones.reduce((sum, zone) => sum + zone.sold, 0);
          return (
            <li key={event.eventId} className="card">
              <p className="organizer-event-title">
                <Link href={organizerPaths.dashboard(event.eventId)}>{event.title}</Link>
                {' '}<span className={`badge status-${event.status}`}>
                  {copy.status[event.status] ?? event.status}</span>
              </p>
              <p className="muted small">
                {event.venueName} · {formatDateTime(event.startsAt)} ·{' '}
                {text.sold(formatCount(sold), formatCount(event.capacity))}
              </p>
              <p className="row small">
                <Link href={organizerPaths.dashboard(event.eventId)}>{text.dashboard}</Link>
                <Link href={organizerPaths.checkin(event.eventId)}>{text.checkin}</Link>
                <Link href={organizerPaths.orders(event.eventId)}>{text.orders}</Link>
              </p>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
