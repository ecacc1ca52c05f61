/**
 * The signed-in fan's live notices (from GET /api/v1/me/stream), newest first, with the
 * last notification id seen so a reconnect (or a reload in the same tab) replays only what
 * was missed. Pure apart from the store, so it is unit-tested without a browser.
 */
import type { NotificationMessage } from '@server/notifications/types';
import { createStore } from '../../../lib/store';

/** One `notification` message of the stream: the server's own type, never a copy. */
export type Notice = NotificationMessage;
export type NoticeKind = Notice['kind'];

export interface NoticeState {
  notices: Notice[];
  /** Bumped on each waitlist offer, so the offer banner re-reads the fan's offers. */
  offers: number;
}

/** At most this many notices are kept on screen; older ones drop off. */
export const maxNotices = 5;

/**
 * Adds a message unless it was seen already (replays after a reconnect may repeat it). An
 * order's outcome makes that event's queue notices old news, so they go.
 */
export function addNotice(state: NoticeState, notice: Notice): NoticeState {
  if (state.notices.some((n) => n.id === notice.id)) return state;
  const settled = notice.kind.startsWith('order.');
  const kept = state.notices.filter((n) => !(settled && n.eventId === notice.eventId
    && n.kind.startsWith('queue.')));
  return {
    notices: [notice, ...kept].slice(0, maxNotices),
    offers: state.offers + (notice.kind === 'waitlist.offered' ? 1 : 0),
  };
}

export function dismissNotice(state: NoticeState, id: number): NoticeState {
  return { ...state, notices: state.notices.filter((n) => n.id !== id) };
}

/** Parses a stream message's data; anything not shaped like a notice is dropped. */
export function parseNotice(data: string): Notice | undefined {
  try {
    const value = JSON.parse(data) as Partial<Notice>;
    if (typeof value.id !== 'number' || typeof value.kind !== 'string'
      || typeof value.eventId !== 'string') return undefined;
    return value as Notice;
  } catch {
    return undefined;
  }
}

export const noticeStore = createStore<NoticeState>({ notices: [], offers: 0 });
