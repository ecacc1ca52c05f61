/** The order page (tickets as QR codes) and "my orders" with cancellation. */
import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { PageTitle } from '../../../components/PageTitle';
import { ProblemMessage } from '../../../components/ProblemMessage';
import { Spinner } from '../../../components/Spinner';
import { loadEvent } from '../../../lib/api/events';
import { copy } from '../../../lib/copy';
import { formatDateTime, formatMoney } from '../../../lib/format';
import { paths } from '../../../lib/paths';
import { useAsync } from '../../../lib/useAsync';
import { RequireSession } from '../../account';
import { cancelOrder, loadOrder, myOrders, type Order } from '../api/orders';
import { TicketCode } from './TicketCode';

function StatusBadge({ order }: { order: Order }) {
  const tone = order.status === 'confirmed' ? 'on_sale'
    : order.status === 'pending_payment' ? 'scheduled' : 'cancelled';
  return <span className={`badge status-${tone}`}>{copy.orders.status[order.status]}</span>;
}

function OrderDetails({ orderId }: { orderId: string }) {
  const order = useAsync(() => loadOrder(orderId), [orderId]);
  const event = useAsync(async () => (order.data ? await loadEvent(order.data.eventId) : undefined),
    [order.data?.eventId]);
  if (order.data === undefined) {
    return order.loading ? <Spinner /> : <ProblemMessage error={order.error} />;
  }
  const o = order.data;
  return (
    <div className="stack">
      <div className="card order-summary">
        {event.data && <h2>{event.data.title}</h2>}
        {event.data && (
          <p className="muted">
            {formatDateTime(event.data.startsAt)} · {event.data.venueName}, {event.data.city}
          </p>
        )}
        <p className="row">
          <span>{copy.orders.orderNumber(o.orderId)}</span>
          <StatusBadge order={o} />
          <span>{copy.orders.total}: {formatMoney(o.totalCents, o.currency)}</span>
        </p>
      </div>
      {o.status === 'pending_payment' && <p className="notice warn">{copy.orders.pending}</p>}
      {o.status === 'confirmed' && <p>{copy.orders.showAtDoor}</p>}
      <ul className="tickets">
        {o.tickets.map((ticket, i) => (
          <TicketCode key={ticket.ticketId} ticket={ticket} index={i} />
        ))}
      </ul>
    </div>
  );
}

export function OrderPage() {
  const { orderId = '' } = useParams<{ orderId: string }>();
  return (
    <section className="page">
      <PageTitle title={copy.orders.title} />
      <RequireSession>
        <OrderDetails orderId={orderId} />
      </RequireSession>
    </section>
  );
}

function OrderRow({ order, onChanged }: { order: Order; onChanged(): void }) {
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState(false);
  const cancel = async () => {
    if (!window.confirm(copy.orders.cancelConfirm)) return;
    setError(undefined);
    try {
      await cancelOrder(order.orderId);
      setDone(true);
      onChanged();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <li className="card order-row">
      <div className="stack">
        <p className="row">
          <strong>{copy.orders.orderNumber(order.orderId)}</strong>
          <StatusBadge order={order} />
        </p>
        <p className="muted small">
          {copy.orders.placed(formatDateTime(order.createdAt))} ·{' '}
          {copy.orders.tickets(order.tickets.length)} ·{' '}
          {formatMoney(order.totalCents, order.currency)}
        </p>
        <ProblemMessage error={error} />
        {done && <p className="notice ok" role="status">{copy.orders.cancelled}</p>}
      </div>
      <div className="row">
        <Link href={paths.order(order.orderId)} className="button secondary">
          {copy.orders.view}
        </Link>
        {order.status === 'confirmed' && (
          <button type="button" className="secondary" onClick={() => void cancel()}>
            {copy.orders.cancel}
          </button>
        )}
      </div>
    </li>
  );
}

function OrderList() {
  const orders = useAsync(myOrders, []);
  if (orders.data === undefined) {
    return orders.loading ? <Spinner /> : <ProblemMessage error={orders.error} />;
  }
  if (orders.data.length === 0) {
    return (
      <p>{copy.orders.none} <Link href={paths.home()}>{copy.orders.findEvents}</Link></p>
    );
  }
  return (
    <ul className="order-list">
      {orders.data.map((order) => (
        <OrderRow key={order.orderId} order={order} onChanged={orders.reload} />
      ))}
    </ul>
  );
}

export function MyOrdersPage() {
  return (
    <section className="page">
      <PageTitle title={copy.orders.myTitle} />
      <RequireSession>
        <OrderList />
      </RequireSession>
    </section>
  );
}
