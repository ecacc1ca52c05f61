/**
 * An event: details, the live seat map with its legend and list alternative, seat
 * selection, best available and standing tickets, the way through the waiting room when the
 * on-sale has one, and the waitlist when it is sold out. Holding tickets leads to checkout.
 */
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import { limits } from '@server/config/limits';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { ApiProblem } from '../../../lib/api/client';
import { copy } from '../../../lib/copy';
import { formatDateTime, formatMoney } from '../../../lib/format';
import { paths } from '../../../lib/paths';
import { useSession } from '../../../lib/session';
import { useAsync } from '../../../lib/useAsync';
import { createHold, type HoldRequest } from '../../checkout';
import { clearQueuePass, getQueuePass } from '../../queue';
import {
  AVAILABLE, Legend, SeatList, SeatMap, useLiveSeatMap, type SeatStore,
} from '../../seatmap';
import { WaitlistPanel } from '../../waitlist';
import { loadEvent, type EventDetails } from '../../../lib/api/events';
import { TicketPicker } from './TicketPicker';

function EventHeader({ event }: { event: EventDetails }) {
  return (
    <header className="event-header">
      <PageTitle title={event.title} />
      <p className="muted">
        <time dateTime={event.startsAt}>{formatDateTime(event.startsAt)}</time>
        {' · '}{event.venueName}, {event.city}
      </p>
      {event.performers.length > 0 && <p>{event.performers.join(' · ')}</p>}
      <p className={`badge status-${event.status}`}>{copy.status[event.status]}</p>
      {event.description && <p className="event-description">{event.description}</p>}
    </header>
  );
}

/** Drops selected seats that someone else took meanwhile, and says so. */
function useSelectionGuard(
  store: SeatStore | undefined, selected: Set<string>, setSelected: (next: Set<string>) => void,
  onLost: (count: number) => void,
): void {
  const revision = useSyncExternalStore(
    store?.subscribe ?? (() => () => undefined), store?.getRevision ?? (() => 0));
  useEffect(() => {
    if (store === undefined || selected.size === 0) return;
    const kept = [...selected].filter((id) => store.statusOf(id) === AVAILABLE);
    if (kept.length === selected.size) return;
    setSelected(new Set(kept));
    onLost(selected.size - kept.length);
    // Runs on every live change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [revision, store]);
}

function SelectionBar({ store, selected, busy, canHold, onHold, onClear }: {
  store: SeatStore; selected: Set<string>; busy: boolean; canHold: boolean;
  onHold(): void; onClear(): void;
}) {
  const { scene } = store;
  let total = 0;
  let currency = 'EUR';
  for (const id of selected) {
    const index = scene.indexById.get(id);
    const zone = index === undefined ? undefined
      : scene.zones[scene.sections[scene.sectionOf[index] as number]?.zone ?? 0];
    if (zone) {
      total += zone.priceCents;
      currency = zone.currency;
    }
  }
  return (
    <div className="selection-bar" aria-live="polite">
      <div>
        <strong>{copy.event.selectedCount(selected.size)}</strong>
        {selected.size > 0 && (
          <span> · {copy.event.selectionTotal(formatMoney(total, currency))}</span>
        )}
      </div>
      <div className="row">
        {selected.size > 0 && (
          <button type="button" className="secondary" onClick={onClear}>
            {copy.event.clearSelection}
          </button>
        )}
        <button type="button" className="button" disabled={!canHold || selected.size === 0 || busy}
          onClick={onHold}>
          {busy ? copy.event.holding : copy.event.holdSeats}
        </button>
      </div>
    </div>
  );
}

export function EventPage() {
  const { eventId = '' } = useParams<{ eventId: string }>();
  const [, navigate] = useLocation();
  const signedIn = useSession() !== null;
  const event = useAsync(() => loadEvent(eventId), [eventId]);
  const details = event.data;
  const live = useLiveSeatMap(eventId, details?.venueId, details?.zones);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [taken, setTaken] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [zoneHint, setZoneHint] = useState<string>();
  const pickerRef = useRef<HTMLDivElement>(null);
  useSelectionGuard(live.store, selected, setSelected,
    (count) => setNotice(copy.seatmap.lostSeats(count)));

  if (details === undefined) {
    return event.loading ? <Spinner /> : <ProblemMessage error={event.error} />;
  }
  const maxTickets = Math.min(details.maxTicketsPerCustomer, limits.seatsPerHold);
  const queued = details.queue.enabled;
  const pass = queued ? getQueuePass(eventId) : undefined;
  const onSale = details.status === 'on_sale';
  const canBuy = onSale && signedIn && (!queued || pass !== undefined);

  const toggleSeat = (seatId: string) => {
    setNotice(undefined);
    const next = new Set(selected);
    if (next.has(seatId)) next.delete(seatId);
    else if (next.size >= maxTickets) {
      setNotice(copy.seatmap.selectionLimit(maxTickets));
      return;
    } else next.add(seatId);
    setSelected(next);
  };

  const hold = async (request: HoldRequest) => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    setTaken(new Set());
    try {
      // A busy store is retried for the fan after Retry-After, with a calm notice meanwhile.
      const created = await createHold(eventId, request, pass, {
        onBusy: (seconds) => setNotice(copy.event.storeBusy(seconds)),
      });
      navigate(paths.checkout(created.holdId));
    } catch (failure) {
      setBusy(false);
      setNotice(undefined);
      setError(failure);
      if (!(failure instanceof ApiProblem)) return;
      if (failure.code === 'seats_unavailable') {
        const gone = failure.unavailableSeats;
        live.store?.markTaken(gone);
        setTaken(new Set(gone));
        setSelected(new Set([...selected].filter((id) => !gone.includes(id))));
      }
      if (failure.code === 'queue_pass_required') clearQueuePass(eventId);
    }
  };

  const soldOut = details.status === 'sold_out'
    || (live.store !== undefined && live.store.zoneCounts.every((z) => z.available === 0));
  return (
    <section className="page event-page">
      <EventHeader event={details} />
      {details.status === 'scheduled' && (
        <p className="notice warn">{copy.event.onSaleAt(formatDateTime(details.onSaleAt))}</p>
      )}
      {details.status === 'cancelled' && <p className="notice error">{copy.event.cancelled}</p>}
      {onSale && !signedIn && (
        <p className="notice">
          {copy.event.signInToBuy}{' '}
          <Link href={paths.login(paths.event(eventId))}>{copy.nav.signIn}</Link>
        </p>
      )}
      {onSale && signedIn && queued && pass === undefined && (
        <div className="notice warn queue-cta">
          <p>{copy.event.queueNeeded}</p>
          <Link href={paths.queue(eventId)} className="button">{copy.event.joinQueue}</Link>
        </div>
      )}
      {onSale && queued && pass !== undefined && (
        <p className="notice ok">{copy.event.passActive}</p>
      )}
      <ProblemMessage error={error} />
      {error instanceof ApiProblem && error.code === 'queue_pass_required' && (
        <Link href={paths.queue(eventId)} className="button">{copy.event.joinQueue}</Link>
      )}
      {notice && <p className="notice warn" role="status">{notice}</p>}
      {live.store === undefined ? (
        live.error ? <ProblemMessage error={live.error} /> : <Spinner />
      ) : (
        <div className="event-layout">
          <div className="event-map">
            <h2>{copy.event.mapTitle}</h2>
            {live.store.ended && <p className="notice error">{copy.seatmap.ended}</p>}
            <SeatMap store={live.store} selected={selected} taken={taken}
              onToggleSeat={toggleSeat}
              onPickSection={(key) => {
                const section = live.store?.scene.sections.find((s) => s.key === key);
                const zone = section === undefined ? undefined
                  : live.store?.scene.zones[section.zone];
                setZoneHint(zone?.key);
                pickerRef.current?.querySelector('select')?.focus();
              }} />
            <SelectionBar store={live.store} selected={selected} busy={busy} canHold={canBuy}
              onClear={() => setSelected(new Set())}
              onHold={() => void hold({ seats: [...selected] })} />
            <Legend store={live.store} />
          </div>
          <aside className="event-side">
            <div ref={pickerRef}>
              <TicketPicker store={live.store} maxQuantity={maxTickets} busy={busy}
                disabled={!canBuy} zoneHint={zoneHint}
                onPick={(zone, quantity) => void hold({ zone, quantity })} />
            </div>
            {signedIn && soldOut && (
              <WaitlistPanel eventId={eventId} zones={details.zones} maxQuantity={maxTickets} />
            )}
            <details className="card seat-list-card">
              <summary>{copy.seatmap.listTitle}</summary>
              <SeatList store={live.store} selected={selected} onToggleSeat={toggleSeat} />
            </details>
          </aside>
        </div>
      )}
    </section>
  );
}
