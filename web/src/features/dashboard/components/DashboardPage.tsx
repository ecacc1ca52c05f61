/**
 * The live on-sale dashboard: headline figures and charts from the stats endpoint (polled
 * every second), and per-zone counts from the event's live feed, which moves within a
 * second of any hold or sale between polls.
 */
import { Link, useParams } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { copy } from '../../../lib/copy';
import { formatCount, formatDateTime, formatMoney } from '../../../lib/format';
import { organizerPaths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { getEvent } from '../../organizer';
import type { Metric } from '../chartData';
import { useLiveAvailability } from '../hooks/useLiveAvailability';
import { useStats } from '../hooks/useStats';
import { LineChart } from './LineChart';
import { timeDomain } from '../chartData';

const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function DashboardPage() {
  const text = copy.dashboard;
  const { eventId = '' } = useParams<{ eventId: string }>();
  const stats = useStats(eventId);
  const domain = timeDomain(stats.samples);
  const live = useLiveAvailability(eventId);
  // Without the live feed, zone counts come from re-reading the event with each poll.
  const event = useAsync(async () => await getEvent(eventId),
    [eventId, live.connected ? 'live' : stats.latest?.asOf]);
  const latest = stats.latest;
  const currency = latest?.currency ?? 'EUR';
  const money = (cents: number) => formatMoney(cents, currency);
  const ms = (value: number) => text.ms(decimal.format(value));
  const charts: { metric: Metric; title: string; format: (v: number) => string }[] = [
    { metric: 'queueLength', title: text.charts.queueLength, format: formatCount },
    { metric: 'admissionsPerSecond', title: text.charts.admissionsPerSecond,
      format: (v) => decimal.format(v) },
    { metric: 'activeHolds', title: text.charts.activeHolds, format: formatCount },
    { metric: 'sold', title: text.charts.sold, format: formatCount },
    { metric: 'revenueCents', title: text.charts.revenue, format: money },
    { metric: 'holdLatencyMsP99', title: text.charts.holdLatencyMsP99, format: ms },
  ];
  const title = event.data?.title ?? text.title;
  return (
    <section className="page organizer dashboard">
      <PageTitle title={text.pageTitle(title)} />
      {event.data && (
        <p className="muted">
          {text.subtitle(event.data.venueName, formatDateTime(event.data.startsAt),
            formatDateTime(event.data.onSaleAt))}
          {' '}<span className={`badge status-${event.data.status}`}>
            {copy.status[event.data.status] ?? event.data.status}</span>
        </p>
      )}
      <nav className="row" aria-label={text.actions}>
        <Link href={organizerPaths.checkin(eventId)} className="button secondary small">
          {text.checkin}</Link>
        <Link href={organizerPaths.orders(eventId)} className="button secondary small">
          {text.orders}</Link>
      </nav>
      <ProblemMessage error={event.error ?? stats.error} />
      {latest === undefined && stats.error === undefined && <Spinner />}
      {latest !== undefined && (
        <>
          <dl className="tiles" aria-live="off">
            <div className="tile"><dt>{text.tiles.sold}</dt>
              <dd data-testid="tile-sold">
                {text.ofCapacity(formatCount(latest.tickets.sold),
                  formatCount(latest.tickets.capacity))}</dd></div>
            <div className="tile"><dt>{text.tiles.revenue}</dt>
              <dd data-testid="tile-revenue">{money(latest.revenueCents)}</dd></div>
            <div className="tile"><dt>{text.tiles.held}</dt>
              <dd>{formatCount(latest.tickets.held)}</dd></div>
            <div className="tile"><dt>{text.tiles.orders}</dt>
              <dd data-testid="tile-orders">{formatCount(latest.orders.confirmed)}</dd></div>
            <div className="tile"><dt>{text.tiles.queue}</dt>
              <dd>{latest.queue.enabled
                ? formatCount(latest.queue.waiting + latest.queue.preQueue) : text.noQueue}</dd>
            </div>
            <div className="tile"><dt>{text.tiles.latency}</dt>
              <dd>{latest.holdLatency.latencyMsP99 === null ? '–'
                : ms(latest.holdLatency.latencyMsP99)}</dd></div>
          </dl>
          {latest.queue.enabled && latest.queue.storePace.factor < 1 && (
            <p className="notice warn" role="status" data-testid="store-paced">
              {text.storePaced(Math.round(latest.queue.storePace.factor * 100),
                latest.queue.storePace.storeWaitMs === null ? undefined
                  : ms(latest.queue.storePace.storeWaitMs),
                latest.queue.storePace.refusing,
                formatCount(latest.queue.storePace.liveCap))}
            </p>
          )}
          <div className="charts">
            {charts.map((chart) => (
              <LineChart key={chart.metric} samples={stats.samples} domain={domain} {...chart} />
            ))}
          </div>
        </>
      )}
      <h2>{text.zones}</h2>
      <p className="muted small" role="status">
        {live.connected ? text.liveOn : text.liveOff}
      </p>
      <ZoneTable live={live.zones} fallback={event.data?.zones ?? []} />
    </section>
  );
}

function ZoneTable({ live, fallback }: {
  live: readonly { key: string; capacity: number; available: number; held: number;
    sold: number }[];
  fallback: readonly { key: string; name: string; capacity: number; available: number;
    held: number; sold: number; priceCents: number; currency: string }[];
}) {
  const text = copy.dashboard.zoneTable;
  const byKey = new Map(live.map((zone) => [zone.key, zone]));
  return (
    <div className="table-scroll" role="region" tabIndex={0} aria-label={text.label}>
      <table className="data-table" data-testid="zone-table">
        <thead>
          <tr>
            <th scope="col">{text.zone}</th><th scope="col">{text.price}</th>
            <th scope="col">{text.available}</th><th scope="col">{text.held}</th>
            <th scope="col">{text.sold}</th><th scope="col">{text.capacity}</th>
          </tr>
        </thead>
        <tbody>
          {fallback.map((zone) => {
            const counts = byKey.get(zone.key) ?? zone;
            return (
              <tr key={zone.key} data-zone={zone.key}>
                <th scope="row">{zone.name}</th>
                <td>{formatMoney(zone.priceCents, zone.currency)}</td>
                <td>{formatCount(counts.available)}</td>
                <td>{formatCount(counts.held)}</td>
                <td data-testid={`zone-sold-${zone.key}`}>{formatCount(counts.sold)}</td>
                <td>{formatCount(counts.capacity)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
