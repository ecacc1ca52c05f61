/**
 * Checkout: the held tickets, a countdown to the hold's expiry with the one extension, a
 * payment method, and a clear message for each way it can go wrong (declined card, expired
 * hold, rate limit…). A declined card may be retried with another method until the timer
 * ends; each attempt has its own idempotency key, and a retried click reuses it.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { ApiProblem } from '../../../lib/api/client';
import { loadEvent } from '../../../lib/api/events';
import { copy } from '../../../lib/copy';
import { formatMoney } from '../../../lib/format';
import { paths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { RequireSession } from '../../account';
import { loadOrder } from '../../orders';
import { checkout, extendHold, loadHold, releaseHold, type Hold } from '../api/holds';
import { Countdown, useSecondsLeft } from './Countdown';

function Items({ hold }: { hold: Hold }) {
  return (
    <table className="items">
      <caption className="visually-hidden">{copy.checkout.items}</caption>
      <thead>
        <tr>
          <th scope="col">{copy.checkout.section}</th>
          <th scope="col">{copy.checkout.row}</th>
          <th scope="col">{copy.checkout.seat}</th>
          <th scope="col" className="num">{copy.checkout.price}</th>
        </tr>
      </thead>
      <tbody>
        {hold.items.map((item) => (
          <tr key={item.ticketNo}>
            <td>{item.section}</td>
            <td>{item.row ?? copy.checkout.standing}</td>
            <td>{item.number ?? '–'}</td>
            <td className="num">{formatMoney(item.priceCents, hold.currency)}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row" colSpan={3}>{copy.checkout.total}</th>
          <td className="num"><strong>{formatMoney(hold.totalCents, hold.currency)}</strong></td>
        </tr>
      </tfoot>
    </table>
  );
}

/** Polls a pending order until the payment outcome arrives. */
async function settle(orderId: string, signal: { stopped: boolean }): Promise<string> {
  for (let wait = 500; !signal.stopped; wait = Math.min(wait * 1.5, 3_000)) {
    const order = await loadOrder(orderId);
    if (order.status !== 'pending_payment') return order.status;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return 'pending_payment';
}

function Checkout({ holdId }: { holdId: string }) {
  const [, navigate] = useLocation();
  const loaded = useAsync(() => loadHold(holdId), [holdId]);
  const [hold, setHold] = useState<Hold>();
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState<{ tone: 'ok' | 'error' | 'warn'; text: string }>();
  const [phase, setPhase] = useState<'idle' | 'paying' | 'pending' | 'released'>('idle');
  const attemptKey = useRef<string | undefined>(undefined);
  const stop = useRef({ stopped: false });
  const methodId = useId();
  useEffect(() => () => {
    stop.current.stopped = true;
  }, []);
  useEffect(() => {
    if (loaded.data) setHold(loaded.data);
  }, [loaded.data]);
  const current = hold ?? loaded.data;
  const event = useAsync(async () => (current ? await loadEvent(current.eventId) : undefined),
    [current?.eventId]);
  const secondsLeft = useSecondsLeft(current?.expiresAt ?? new Date(0).toISOString());

  if (current === undefined) {
    return loaded.loading ? <Spinner /> : <ProblemMessage error={loaded.error} />;
  }
  const expired = current.status === 'expired' || (current.status === 'held' && secondsLeft === 0);
  const backLink = (
    <Link href={paths.event(current.eventId)} className="button secondary">
      {copy.checkout.backToEvent}
    </Link>
  );
  if (phase === 'released' || current.status === 'released') {
    return <div className="notice">{copy.checkout.released} {backLink}</div>;
  }
  if (current.status === 'purchased') {
    return (
      <div className="notice ok">
        <p>{copy.checkout.purchased}</p>
        <Link href={paths.myOrders()} className="button">{copy.checkout.myOrders}</Link>
      </div>
    );
  }
  if (expired) {
    return (
      <div className="stack">
        <div role="alert" className="notice error" data-code="hold_expired">
          {copy.checkout.expired}
        </div>
        {backLink}
      </div>
    );
  }

  const extensionSeconds = event.data?.holdExtensionSeconds ?? 0;
  const extend = async () => {
    setError(undefined);
    try {
      setHold(await extendHold(holdId));
      setMessage({ tone: 'ok', text: copy.checkout.extended });
    } catch (failure) {
      setError(failure);
    }
  };
  const release = async () => {
    setError(undefined);
    try {
      await releaseHold(holdId);
      setPhase('released');
    } catch (failure) {
      setError(failure);
    }
  };
  const pay = async (form: FormEvent<HTMLFormElement>) => {
    form.preventDefault();
    const method = String(new FormData(form.currentTarget).get('method') ?? 'sim_ok');
    attemptKey.current ??= crypto.randomUUID();
    setError(undefined);
    setMessage(undefined);
    setPhase('paying');
    try {
      const order = await checkout(holdId, method, attemptKey.current);
      let status: string = order.status;
      if (status === 'pending_payment') {
        setPhase('pending');
        status = await settle(order.orderId, stop.current);
      }
      if (status === 'confirmed') {
        navigate(paths.order(order.orderId));
        return;
      }
      // A refusal is final for this attempt: the next one is a new payment.
      attemptKey.current = undefined;
      setPhase('idle');
      const declined = order.failureReason === null || /declin/i.test(order.failureReason ?? '');
      setMessage({
        tone: 'error',
        text: declined ? copy.checkout.declined : copy.checkout.failed(order.failureReason ?? ''),
      });
    } catch (failure) {
      setPhase('idle');
      setError(failure);
      // Only a lost reply or a payment still in flight is retried under the same key.
      const sameAttempt = failure instanceof ApiProblem
        && (failure.status === 0 || failure.code === 'payment_pending');
      if (!sameAttempt) attemptKey.current = undefined;
      if (failure instanceof ApiProblem && failure.code === 'hold_expired') {
        setHold({ ...current, status: 'expired' });
      }
    }
  };
  const busy = phase === 'paying' || phase === 'pending';
  return (
    <div className="checkout-layout">
      <div className="stack">
        <Countdown secondsLeft={secondsLeft} />
        {current.offer && <p className="notice ok">{copy.checkout.offer}</p>}
        <ProblemMessage error={error} />
        {message && (
          <div role="alert" className={`notice ${message.tone}`}
            data-code={message.tone === 'error' ? 'payment_declined' : undefined}>
            {message.text}
          </div>
        )}
        <section className="card" aria-labelledby="items-title">
          <h2 id="items-title">{copy.checkout.items}</h2>
          {event.data && <p className="muted">{event.data.title}</p>}
          <Items hold={current} />
          {current.items.length > 1 && current.items.every((i) => i.seatId !== null) && (
            <p className="muted small">
              {current.adjacent ? copy.checkout.together : copy.checkout.apart}
            </p>
          )}
        </section>
      </div>
      <form className="card stack" onSubmit={(e) => void pay(e)} aria-labelledby={methodId}>
        <h2 id={methodId}>{copy.checkout.payment}</h2>
        <fieldset className="methods">
          <legend className="visually-hidden">{copy.checkout.payment}</legend>
          {copy.checkout.methods.map((method, i) => (
            <label key={method.value} className="method">
              <input type="radio" name="method" value={method.value} defaultChecked={i === 0} />
              <span>{method.label}</span>
            </label>
          ))}
        </fieldset>
        <p className="muted small">{copy.checkout.simulated}</p>
        <button type="submit" className="button" disabled={busy}>
          {phase === 'paying' ? copy.checkout.paying
            : copy.checkout.pay(formatMoney(current.totalCents, current.currency))}
        </button>
        {phase === 'pending' && <p role="status">{copy.checkout.pending}</p>}
        <div className="row">
          {extensionSeconds > 0 && (
            <button type="button" className="secondary" disabled={current.extended || busy}
              onClick={() => void extend()}>
              {current.extended ? copy.checkout.extensionUsed
                : copy.checkout.extend(Math.round(extensionSeconds / 60))}
            </button>
          )}
          <button type="button" className="secondary" disabled={busy}
            onClick={() => void release()}>
            {copy.checkout.release}
          </button>
        </div>
      </form>
    </div>
  );
}

export function CheckoutPage() {
  const { holdId = '' } = useParams<{ holdId: string }>();
  return (
    <section className="page">
      <PageTitle title={copy.checkout.title} />
      <RequireSession>
        <Checkout holdId={holdId} />
      </RequireSession>
    </section>
  );
}
