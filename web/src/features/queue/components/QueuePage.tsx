/**
 * The waiting room: live place in line, ETA and a progress bar over the queue stream. When
 * the fan is admitted the pass is kept for the seat map and the page moves on by itself.
 * It tells the truth about what is left (tickets left, everything in carts, unlikely, sold
 * out) and offers the one-step move to the waitlist, which keeps the fan's line order.
 */
import { useEffect, useId, useState, type FormEvent } from 'react';
import { limits } from '@server/config/limits';
import { Link, useLocation, useParams } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { copy } from '../../../lib/copy';
import { formatCount, formatDateTime, formatEta, formatTime } from '../../../lib/format';
import { paths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { RequireSession } from '../../account';
import { loadEvent } from '../../../lib/api/events';
import { leaveQueue, moveToWaitlist, type HandOver, type QueueView } from '../api/queue';
import { useQueueStream } from '../hooks/useQueueStream';
import { setQueuePass } from '../lib/pass';

function Progress({ value }: { value: number }) {
  const percent = Math.round(Math.min(1, Math.max(0, value)) * 100);
  return (
    <div className="progress" role="progressbar" aria-label={copy.queue.progress}
      aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
      <div className="progress-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}

type EventInfo = Awaited<ReturnType<typeof loadEvent>>;

/** What the last tick saw: tickets free and in carts, and what that means for this fan. */
function Outlook({ view }: { view: QueueView }) {
  const tickets = view.tickets;
  return (
    <>
      {tickets && view.state !== 'sold_out' && (
        <p data-testid="queue-tickets">
          {copy.queue.ticketsLeft(formatCount(tickets.available), formatCount(tickets.inCarts))}
        </p>
      )}
      {view.outlook === 'in_carts' && (
        <p className="notice warn" data-testid="queue-outlook">{copy.queue.inCarts}</p>
      )}
      {view.outlook === 'unlikely' && (
        <p className="notice warn" data-testid="queue-outlook">{copy.queue.unlikely}</p>
      )}
      {tickets?.together !== undefined && view.state !== 'sold_out' && (
        <p data-testid="queue-together">{copy.queue.together(formatCount(tickets.together))}</p>
      )}
    </>
  );
}

/** The one-step move from the line to the waitlist (zone and quantity, then one click). */
function HandOverForm({ eventId, event, onMoved }: {
  eventId: string; event: EventInfo | undefined; onMoved(moved: HandOver): void;
}) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const id = useId();
  const max = Math.min(event?.maxTicketsPerCustomer ?? 1, limits.waitlistQuantityMax);
  const submit = async (form: FormEvent<HTMLFormElement>) => {
    form.preventDefault();
    const data = new FormData(form.currentTarget);
    const zone = String(data.get('zone') ?? '');
    setError(undefined);
    setBusy(true);
    try {
      onMoved(await moveToWaitlist(eventId, zone === '' ? undefined : zone,
        Number(data.get('quantity'))));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card stack" aria-labelledby={`${id}-title`} onSubmit={(e) => void submit(e)}>
      <h2 id={`${id}-title`}>{copy.queue.handOverTitle}</h2>
      <p className="muted">{copy.queue.handOverIntro}</p>
      <ProblemMessage error={error} />
      <div className="row">
        <div className="field">
          <label htmlFor={`${id}-zone`}>{copy.event.zone}</label>
          <select id={`${id}-zone`} name="zone">
            <option value="">{copy.waitlist.anyZone}</option>
            {(event?.zones ?? []).map((z) => <option key={z.key} value={z.key}>{z.name}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-quantity`}>{copy.event.quantity}</label>
          <select id={`${id}-quantity`} name="quantity" defaultValue={String(Math.min(2, max))}>
            {Array.from({ length: max }, (_, i) => i + 1).map((n) => (
              <option key={n} value={n}>{n}</option>
            ))}
          </select>
        </div>
      </div>
      <button type="submit" className="button" disabled={busy}>{copy.queue.handOver}</button>
    </form>
  );
}

/** Leaving is final for this event, so it is a plain secondary button, not the main action. */
function LeaveButton({ eventId, onLeft }: { eventId: string; onLeft(view: QueueView): void }) {
  const [error, setError] = useState<unknown>();
  const leave = async () => {
    setError(undefined);
    try {
      onLeft(await leaveQueue(eventId));
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <>
      <ProblemMessage error={error} />
      <button type="button" className="secondary" onClick={() => void leave()}>
        {copy.queue.leave}
      </button>
    </>
  );
}

function Moved({ eventId, moved }: { eventId: string; moved: HandOver }) {
  return (
    <div className="notice ok" role="status" data-testid="queue-moved">
      <p><strong>{copy.waitlist.waiting(moved.waitlist.position ?? null)}</strong></p>
      <p>{copy.queue.movedBody}</p>
      <Link href={paths.event(eventId)}>{copy.queue.backToEvent}</Link>
    </div>
  );
}

/** An ETA only when one can honestly be given (tickets left for the fans ahead). */
function etaText(view: QueueView): string {
  if (view.outlook === 'in_carts' || view.outlook === 'unlikely') return copy.queue.etaNone;
  if (view.etaSeconds === null || view.etaSeconds === undefined) return copy.queue.etaUnknown;
  // "Place 1, 0 ahead, your turn comes in 15 minutes" reads as a contradiction: say why.
  return (view.position ?? 0) <= 1 ? copy.queue.etaNext(formatEta(view.etaSeconds))
    : copy.queue.eta(formatEta(view.etaSeconds));
}

function Line({ eventId }: { eventId: string }) {
  const [attempt, setAttempt] = useState(0);
  const [moved, setMoved] = useState<HandOver>();
  const [, navigate] = useLocation();
  const state = useQueueStream(eventId, attempt);
  const event = useAsync(() => loadEvent(eventId), [eventId]);
  const view = state.view;
  const handOver = view?.waitlistUrl !== undefined && (
    <HandOverForm eventId={eventId} event={event.data} onMoved={(result) => {
      setMoved(result);
      state.replace(result.queue);
    }} />
  );
  useEffect(() => {
    if (view?.state !== 'admitted' || view.pass === undefined) return undefined;
    setQueuePass(eventId, view.pass, view.passExpiresAt);
    const timer = setTimeout(() => navigate(paths.event(eventId), { replace: true }), 1_200);
    return () => clearTimeout(timer);
  }, [view, eventId, navigate]);

  if (moved) return <Moved eventId={eventId} moved={moved} />;
  if (state.error) return <ProblemMessage error={state.error} />;
  if (view === undefined) {
    return <Spinner label={state.phase === 'solving' ? copy.queue.solving : copy.queue.joining} />;
  }
  if (event.data && !event.data.queue.enabled) {
    return (
      <div className="notice">
        <p>{copy.queue.noQueue}</p>
        <Link href={paths.event(eventId)} className="button">{copy.queue.goToSeats}</Link>
      </div>
    );
  }
  if (view.state === 'admitted') {
    return (
      <div className="notice ok" role="status">
        <p><strong>{copy.queue.admitted}</strong></p>
        {view.claimBy && <p>{copy.queue.claimBy(formatTime(view.claimBy))}</p>}
        <Link href={paths.event(eventId)} className="button">{copy.queue.goToSeats}</Link>
      </div>
    );
  }
  if (view.state === 'sold_out') {
    return (
      <div className="stack">
        <div className="notice error" role="status" data-testid="queue-sold-out">
          <p><strong>{copy.queue.soldOut}</strong></p>
          <p>{copy.queue.soldOutBody}</p>
        </div>
        {handOver}
        <Link href={paths.event(eventId)}>{copy.queue.backToEvent}</Link>
      </div>
    );
  }
  // A fan whose order completed is out of the line because they bought (a `left` view, or
  // `expired` when their own order freed the pass): they have tickets, not a lost turn.
  if (view.leftReason === 'purchased') {
    return (
      <div className="notice ok" role="status" data-testid="queue-purchased">
        <p><strong>{copy.queue.purchased}</strong></p>
        <p>{copy.queue.purchasedBody}</p>
        <Link href={paths.myOrders()} className="button">{copy.queue.seeOrders}</Link>
      </div>
    );
  }
  if (view.state === 'left') {
    return (
      <div className="notice" role="status" data-testid="queue-left">
        <p>{view.leftReason === 'waitlist' ? copy.queue.leftForWaitlist : copy.queue.left}</p>
        <Link href={paths.event(eventId)}>{copy.queue.backToEvent}</Link>
      </div>
    );
  }
  if (view.state === 'expired') {
    return (
      <div className="notice warn" role="status">
        <p>{copy.queue.expired}</p>
        <button type="button" onClick={() => setAttempt((n) => n + 1)}>{copy.queue.rejoin}</button>
      </div>
    );
  }
  const position = view.position ?? 0;
  const start = Math.max(state.startPosition ?? position, position, 1);
  return (
    <div className="stack">
      <div className="queue-card card stack">
        {view.state === 'pre_queue' ? (
          <p>{copy.queue.preQueue(event.data ? formatDateTime(event.data.onSaleAt) : '…')}</p>
        ) : (
          <p>{copy.queue.waiting}</p>
        )}
        {view.state === 'waiting' && (
          <>
            <div className="queue-position" aria-live="polite">
              <span className="muted">{copy.queue.position}</span>
              <strong data-testid="queue-position">{formatCount(position)}</strong>
              <span className="muted" data-testid="queue-ahead">
                {position <= 1 ? copy.queue.next
                  : copy.queue.ahead(formatCount(position - 1))}
              </span>
            </div>
            <Progress value={1 - (position - 1) / start} />
            <p aria-live="polite" data-testid="queue-eta">
              {etaText(view)}
            </p>
          </>
        )}
        <Outlook view={view} />
        <p className="muted small" role="status">
          {state.phase === 'reconnecting' ? copy.queue.reconnecting : copy.queue.live}
        </p>
        <div className="row">
          <LeaveButton eventId={eventId} onLeft={state.replace} />
        </div>
      </div>
      {handOver}
    </div>
  );
}

export function QueuePage() {
  const { eventId = '' } = useParams<{ eventId: string }>();
  const event = useAsync(() => loadEvent(eventId), [eventId]);
  return (
    <section className="page narrow-wide">
      <PageTitle title={copy.queue.title} />
      {event.data && <p className="lead">{event.data.title}</p>}
      <RequireSession>
        <Line eventId={eventId} />
      </RequireSession>
    </section>
  );
}
