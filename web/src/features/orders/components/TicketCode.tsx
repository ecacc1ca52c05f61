/**
 * One ticket's code as a QR image (drawn locally by the qrcode package) and as text. The
 * encoder is imported on first use, so only pages that draw a ticket download it: pages
 * that merely share the order helpers (checkout, the event page) stay without it.
 */
import { useEffect, useState } from 'react';
import { copy } from '../../../lib/copy';
import type { Ticket } from '../api/orders';

export function TicketCode({ ticket, index }: { ticket: Ticket; index: number }) {
  const [svg, setSvg] = useState<string>();
  useEffect(() => {
    let current = true;
    void import('qrcode')
      .then(async ({ toString: qrSvg }) => await qrSvg(ticket.code,
        { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }))
      .then((markup) => current && setSvg(markup));
    return () => {
      current = false;
    };
  }, [ticket.code]);
  const cancelled = ticket.status === 'cancelled';
  return (
    <li className={`ticket card${cancelled ? ' cancelled' : ''}`} data-code={ticket.code}>
      <div className="ticket-qr">
        {svg && !cancelled && (
          <img src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`}
            alt={copy.orders.qrAlt(ticket.code)} width={168} height={168} />
        )}
      </div>
      <div className="ticket-info">
        <p className="muted small">{copy.orders.ticket} {index + 1}</p>
        <p><strong>{copy.orders.ticketPlace(ticket.section, ticket.row, ticket.number)}</strong></p>
        <p className="small">{copy.orders.code}: <code>{ticket.code}</code></p>
      </div>
    </li>
  );
}
