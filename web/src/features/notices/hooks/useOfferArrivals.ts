/** How many waitlist offers arrived on the stream: a key for views that list offers. */
import { useSyncExternalStore } from 'react';
import { noticeStore } from '../lib/noticeStore';

const offers = () => noticeStore.get().offers;

export function useOfferArrivals(): number {
  return useSyncExternalStore(noticeStore.subscribe, offers, offers);
}
