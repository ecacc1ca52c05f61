/**
 * The one entry of the fan's notification stream (GET /api/v1/me/stream, SSE): while a
 * customer is signed in, follows it and adds each notice to the notice store, sending the
 * last id seen when reconnecting. Components read the store, never the stream.
 */
import { useEffect } from 'react';
import { openEventStream } from '../../../lib/eventStream';
import type { Session } from '../../../lib/session';
import { addNotice, noticeStore, parseNotice } from '../lib/noticeStore';

const lastIdKey = (customerId: string) => `stampede.notices.last.${customerId}`;

function readLastId(customerId: string): string | undefined {
  try {
    return globalThis.sessionStorage?.getItem(lastIdKey(customerId)) ?? undefined;
  } catch {
    return undefined;
  }
}

function writeLastId(customerId: string, id: string): void {
  try {
    globalThis.sessionStorage?.setItem(lastIdKey(customerId), id);
  } catch {
    // Without storage a reload starts from live messages only.
  }
}

export function useNoticeStream(current: Session | null): void {
  const customerId = current?.customerId;
  useEffect(() => {
    if (customerId === undefined) return undefined;
    noticeStore.set({ notices: [], offers: 0 });
    let lastId = readLastId(customerId);
    const stream = openEventStream('/api/v1/me/stream', {
      authenticated: true,
      lastEventId: () => lastId,
      // Signed out elsewhere (401) or not served: stop; busy (429, 5xx): try again later.
      onRefused: (response) => response.status === 429 || response.status >= 500,
      onMessage: (message) => {
        if (message.event !== 'notification') return;
        const notice = parseNotice(message.data);
        if (notice === undefined) return;
        lastId = message.id ?? String(notice.id);
        writeLastId(customerId, lastId);
        noticeStore.update((state) => addNotice(state, notice));
      },
    });
    return () => stream.close();
  }, [customerId]);
}
