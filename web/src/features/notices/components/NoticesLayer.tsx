/**
 * Live notices for a signed-in fan, on every page: a banner for each waitlist offer (with
 * its countdown and one click to checkout of the offer's hold) and the notices of the
 * fan's stream (order confirmed, payment failed, refunded, event cancelled, admitted,
 * line closed), each with a link to where it matters and a dismiss button.
 */
import { useSyncExternalStore } from 'react';
import { Link, useLocation } from 'wouter';
import { loadEvent } from '../../../lib/api/events';
import { copy } from '../../../lib/copy';
import { formatClock } from '../../../lib/format';
import { paths } from '../../../lib/paths';
import { useSession } from '../../../lib/session';
import { useAsync } from '../../../lib/useAsync';
import { useSecondsLeft } from '../../../lib/useSecondsLeft';
import { myOffers, type HoldSummary } from '../../waitlist';
import { useNoticeStream } from '../hooks/useNoticeStream';
import { dismissNotice, noticeStore, type Notice } from '../lib/noticeStore';

function OfferBanner({ offer }: { offer: HoldSummary }) {
  const secondsLeft = useSecondsLeft(offer.expiresAt);
  const event = useAsync(() => loadEvent(offer.eventId), [offer.eventId]);
  if (secondsLeft <= 0) return null;
  const quantity = offer.items.length;
  return (
    <div className="notice ok offer-banner" data-testid="offer-banner">
      <p role="status">
        <strong>{copy.notices.offerTitle(event.data?.title ?? copy.notices.anEvent)}</strong>{' '}
        {copy.notices.offerBody(quantity)}
      </p>
      <p>
        <span role="timer" aria-label={copy.notices.offerTimer(formatClock(secondsLeft))}
          className="countdown-clock">{formatClock(secondsLeft)}</span>
        {' '}
        <Link href={paths.checkout(offer.holdId)} className="button small">
          {copy.notices.buyOffer}
        </Link>
      </p>
    </div>
  );
}

/** Where a notice leads, if anywhere. */
function linkFor(notice: Notice): { href: string; label: string } | undefined {
  if (notice.orderId !== undefined && notice.kind !== 'event.cancelled') {
    return { href: paths.order(notice.orderId), label: copy.notices.seeOrder };
  }
  switch (notice.kind) {
    case 'event.cancelled': return { href: paths.myOrders(), label: copy.notices.seeOrders };
    case 'queue.admitted':
      return { href: paths.event(notice.eventId), label: copy.queue.goToSeats };
    case 'queue.closed':
      return { href: paths.queue(notice.eventId), label: copy.notices.seeLine };
    default: return undefined;
  }
}

function NoticeItem({ notice }: { notice: Notice }) {
  const link = linkFor(notice);
  const tone = copy.notices.tone[notice.kind] ?? '';
  const event = useAsync(() => loadEvent(notice.eventId), [notice.eventId]);
  // Our own words for the kinds we know (the server's text is for e-mail); its text else.
  const [headline, sentence] = copy.notices.kinds[notice.kind] ?? [notice.title, notice.body];
  return (
    <div className={`notice ${tone}`} data-testid="notice" data-kind={notice.kind}>
      <p role="status">
        <strong>{headline}</strong>{event.data && ` ${event.data.title}.`} {sentence}
      </p>
      <p className="row">
        {link && <Link href={link.href}>{link.label}</Link>}
        <button type="button" className="link"
          aria-label={copy.notices.dismissLabel(notice.title)}
          onClick={() => noticeStore.update((state) => dismissNotice(state, notice.id))}>
          {copy.notices.dismiss}
        </button>
      </p>
    </div>
  );
}

/** Mounted once in the shell; renders nothing for a visitor who is not signed in. */
export function NoticesLayer() {
  const current = useSession();
  const [location] = useLocation();
  useNoticeStream(current);
  const state = useSyncExternalStore(noticeStore.subscribe, noticeStore.get, noticeStore.get);
  const signedIn = current !== null;
  // Re-read the offers when one arrives and on each page change (a bought offer goes away).
  const offers = useAsync(async () => (signedIn ? await myOffers() : []),
    [signedIn, state.offers, location]);
  const shown = (offers.data ?? []).filter((o) => location !== paths.checkout(o.holdId));
  // Offer notices are shown as banners, from the offers themselves; the waiting room and
  // the event page already say what a queue notice says.
  const notices = state.notices.filter((n) => n.kind !== 'waitlist.offered'
    && !(n.kind.startsWith('queue.') && (location === paths.queue(n.eventId)
      || location === paths.event(n.eventId))));
  if (!signedIn || (shown.length === 0 && notices.length === 0)) return null;
  return (
    <aside className="notices" aria-label={copy.notices.label}>
      {shown.map((offer) => <OfferBanner key={offer.holdId} offer={offer} />)}
      {notices.map((notice) => <NoticeItem key={notice.id} notice={notice} />)}
    </aside>
  );
}
