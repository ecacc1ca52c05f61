/**
 * Support: find an order by its id, a ticket code or the buyer's e-mail (optionally within
 * one event), see its tickets and payment, and cancel it with a refund. Scanned tickets
 * stay sold when the organizer refunds (the server decides; the page says what happened).
 */
import { useState, type FormEvent } from 'react';
import { useLocation, useSearch } from 'wouter';
import { limits } from '@server/config/limits';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { copy } from '../../../lib/copy';
import { formatDateTime, formatMoney } from '../../../lib/format';
import { organizerPaths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { findOrders, refundOrder, type AdminOrder } from '../api/organizer';

function OrderCard({ order, onChanged }: { order: AdminOrder; onChanged: () => void }) {
  const text = copy.organizer.orders;
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const refund = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await refundOrder(order.orderId);
      setConfirming(false);
      onChanged();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const total = formatMoney(order.totalCents, order.currency);
  return (
    <li className="card stack order-card" data-order={order.orderId}>
      <div className="row spread">
        <p className="order-title">
          <strong>{order.customer.name}</strong> · {order.customer.email}
        </p>
        <span className={`badge order-${order.status}`} data-testid="order-status">
          {text.status[order.status] ?? order.status}</span>
      </div>
      <p className="muted small">
        {text.meta(formatDateTime(order.createdAt), total)} · <code>{order.orderId}</code>
      </p>
      {order.payment?.refund && (
        <p className="small">{text.refunded(formatMoney(order.payment.refund.amountCents,
          order.currency), text.refundStatus[order.payment.refund.status]
          ?? order.payment.refund.status)}</p>
      )}
      <div className="table-scroll" role="region" tabIndex={0}
        aria-label={text.ticketsOf(order.customer.email)}>
        <table className="data-table">
          <thead><tr>
            <th scope="col">{text.ticket}</th><th scope="col">{text.place}</th>
            <th scope="col">{text.price}</th><th scope="col">{text.state}</th>
          </tr></thead>
          <tbody>
            {order.tickets.map((t) => (
              <tr key={t.ticketId}>
                <td><code>{t.code.slice(0, 10)}…</code></td>
                <td>{t.seatId ?? text.standing(t.section)}</td>
                <td>{formatMoney(t.priceCents, order.currency)}</td>
                <td>{t.status === 'cancelled' ? text.ticketCancelled
                  : t.checkedInAt ? text.checkedIn(formatDateTime(t.checkedInAt))
                    : text.ticketValid}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ProblemMessage error={error} />
      {order.status === 'confirmed' && !confirming && (
        <div><button type="button" className="secondary" onClick={() => setConfirming(true)}>
          {text.cancel}</button></div>
      )}
      {confirming && (
        <div className="notice warn stack" role="group" aria-label={text.confirmLabel}>
          <p>{text.confirm(total)}</p>
          <div className="row">
            <button type="button" onClick={() => void refund()} disabled={busy}>
              {text.confirmYes}</button>
            <button type="button" className="secondary" onClick={() => setConfirming(false)}>
              {text.confirmNo}</button>
          </div>
        </div>
      )}
    </li>
  );
}

export function OrderSearchPage() {
  const text = copy.organizer.orders;
  const params = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const q = params.get('q') ?? '';
  const eventId = params.get('eventId') ?? undefined;
  const [draft, setDraft] = useState(q);
  const results = useAsync(async () => await findOrders(q, eventId), [q, eventId]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    navigate(organizerPaths.orders(eventId, draft.trim()), { replace: true });
  };
  return (
    <section className="page organizer">
      <PageTitle title={text.title} />
      <form className="search-form" onSubmit={submit} role="search">
        <label className="grow">
          <span>{text.query}</span>
          <input value={draft} onChange={(e) => setDraft(e.target.value)} type="search"
            placeholder={text.placeholder} maxLength={limits.orderSearchQueryLength} />
        </label>
        <button type="submit">{text.find}</button>
      </form>
      {eventId && <p className="muted small">{text.inEvent}</p>}
      <ProblemMessage error={results.error} />
      {results.loading && results.data === undefined && <Spinner />}
      {results.data?.length === 0 && <p>{text.none}</p>}
      <p className="visually-hidden" role="status">
        {results.data ? text.count(results.data.length) : ''}</p>
      <ul className="order-results">
        {results.data?.map((order) => (
          <OrderCard key={order.orderId} order={order} onChanged={results.reload} />
        ))}
      </ul>
    </section>
  );
}
