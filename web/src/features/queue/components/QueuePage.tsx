/**
 * The waiting room: live place in line, ETA and a progress bar over the queue stream. When
 * the fan is admitted the pass is kept for the seat map and the page moves on by itself.
 */
import { useEffect, useState } from 'react';
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

function Line({ eventId }: { eventId: string }) {
  const [attempt, setAttempt] = useState(0);
  const [, navigate] = useLocation();
  const state = useQueueStream(eventId, attempt);
  const event = useAsync(() => loadEvent(eventId), [eventId]);
  const view = state.view;
  useEffect(() => {
    if (view?.state !== 'admitted' || view.pass === undefined) return undefined;
    setQueuePass(eventId, view.pass, view.passExpiresAt);
    const timer = setTimeout(() => navigate(paths.event(eventId), { replace: true }), 1_200);
    return () => clearTimeout(timer);
  }, [view, eventId, navigate]);

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
      <div className="notice error" role="status">
        <p>{copy.queue.soldOut}</p>
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
            <span className="muted">
              {copy.queue.ahead(formatCount(Math.max(0, position - 1)))}
            </span>
          </div>
          <Progress value={1 - (position - 1) / start} />
          <p aria-live="polite">
            {view.etaSeconds === null ? copy.queue.etaUnknown
              : copy.queue.eta(formatEta(view.etaSeconds))}
          </p>
        </>
      )}
      <p className="muted small" role="status">
        {state.phase === 'reconnecting' ? copy.queue.reconnecting : copy.queue.live}
      </p>
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
